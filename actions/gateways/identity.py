"""The in-chat sign-in and the proofs of identity kept beside a conversation."""

from __future__ import annotations

from typing import Protocol

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.auth.proof import IdentityProof
from personalization.auth.sign_in import SignInGuard, SignInResult, record_proof
from personalization.settings import IdentitySettings, SignInSettings


class Identity(Protocol):
    async def sign_in(
        self,
        identifier: str,
        order_number: str | None,
        client_key: str,
        conversation_id: str,
        channel: str,
    ) -> Outcome[SignInResult]:
        """One checked and counted attempt. Unavailable means nothing was checked or counted."""
        ...

    async def record_proof(self, conversation_id: str, proof: IdentityProof) -> Outcome[None]: ...


class StoreIdentity:
    async def sign_in(
        self,
        identifier: str,
        order_number: str | None,
        client_key: str,
        conversation_id: str,
        channel: str,
    ) -> Outcome[SignInResult]:
        def attempt() -> SignInResult:
            guard = SignInGuard(
                client.database(),
                SignInSettings.from_env(),
                IdentitySettings.from_env().binding_key,
            )
            return guard.attempt(identifier, order_number, client_key, conversation_id, channel)

        return await client.run("sign-in", attempt)

    async def record_proof(self, conversation_id: str, proof: IdentityProof) -> Outcome[None]:
        return await client.run(
            "identity proof",
            lambda: record_proof(
                client.database(),
                conversation_id,
                proof.customer_id,
                proof.channel,
                proof.method,
                proof.verified_at,
                proof.expires_at,
            ),
        )


identity_store: Provider[Identity] = Provider(StoreIdentity)
