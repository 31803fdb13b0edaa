"""What every input channel does to a message before Rasa sees it: say who sent it.

The client's metadata is kept only as small plain JSON, and anything it wrote under the keys
that carry identity is thrown away. The channel then writes the message's identity block
(``personalization.auth.proof.MessageIdentity``): its own name, opaque keys of the client,
and the customer only when a proof checked out here (a customer token) or in the channel
(Slack's verified email). Actions trust nothing else.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from personalization.auth.proof import METADATA_KEY, MessageIdentity, opaque
from personalization.auth.tokens import CustomerTokenVerifier, InvalidToken, VerifiedToken
from personalization.settings import IdentitySettings, TokenSettings

log = logging.getLogger(__name__)

# Keys a client may not set: the identity block, and the unsigned ids older pages sent.
RESERVED_KEYS = {METADATA_KEY, "customer_id", "customer_signature", "customer_token"}
MAX_METADATA_CHARS = 2000


class ChannelIdentity:
    """Token checking and identity blocks, configured once per channel from the environment."""

    def __init__(self, verifier: CustomerTokenVerifier | None, settings: IdentitySettings) -> None:
        self.verifier = verifier
        self.settings = settings

    @classmethod
    def from_env(cls, channel: str) -> ChannelIdentity:
        verifier = CustomerTokenVerifier.from_settings(TokenSettings.from_env())
        if verifier is None:
            log.warning(
                "%s channel: no CUSTOMER_TOKEN_SECRET or CUSTOMER_TOKEN_PUBLIC_KEY_FILE is set, "
                "so no customer token is accepted and visitors are anonymous until they sign in",
                channel,
            )
        return cls(verifier, IdentitySettings.from_env())

    def key(self, value: str) -> str:
        return opaque(self.settings.binding_key, value)

    def check_token(self, token: Any, channel: str) -> VerifiedToken | None:
        if token is None or token == "":
            return None
        if self.verifier is None:
            log.info("%s: a customer token was sent but none can be checked; ignored", channel)
            return None
        try:
            return self.verifier.verify(token)
        except InvalidToken as exc:
            log.info("%s: customer token refused (%s)", channel, exc.reason)
            return None

    def metadata(
        self,
        sent: Any,
        *,
        channel: str,
        client: str,
        address: str,
        token: Any = None,
        verified: VerifiedToken | None = None,
        customer_id: str | None = None,
        method: str | None = None,
        private: bool = True,
    ) -> dict[str, Any]:
        """The message's metadata: the client's own keys, cleaned, plus the identity block.

        ``client`` and ``address`` are raw values (a session id, an IP address, a Slack user);
        only keyed hashes of them are kept. ``verified`` is a token the caller already checked.
        """
        if verified is None:
            verified = self.check_token(token, channel)
        now = time.time()
        identity = MessageIdentity(
            channel=channel,
            client=self.key(f"{channel}:{client}"),
            address=self.key(f"address:{address}"),
            private=private,
        )
        if verified is not None:
            identity = MessageIdentity(
                **{
                    **identity.as_metadata(),
                    "customer_id": verified.customer_id,
                    "method": "token",
                    "verified_at": now,
                    "expires_at": verified.expires_at,
                }
            )
        elif customer_id is not None and method is not None:
            identity = MessageIdentity(
                **{
                    **identity.as_metadata(),
                    "customer_id": customer_id,
                    "method": method,
                    "verified_at": now,
                    "expires_at": None,
                }
            )
        return {**client_metadata(sent), METADATA_KEY: identity.as_metadata()}


MAX_METADATA_DEPTH = 8


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest deeper than ``limit``; iterative, so any depth is safe."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False


def client_metadata(sent: Any) -> dict[str, Any]:
    """The client's metadata as a small, shallow JSON object, without reserved keys."""
    if isinstance(sent, str):
        if len(sent) > MAX_METADATA_CHARS:
            return {}
        try:
            sent = json.loads(sent)
        except (ValueError, RecursionError):
            return {}
    if not isinstance(sent, dict) or nested_deeper_than(sent, MAX_METADATA_DEPTH):
        return {}
    kept = {k: v for k, v in sent.items() if isinstance(k, str) and k not in RESERVED_KEYS}
    try:
        if len(json.dumps(kept)) > MAX_METADATA_CHARS:
            log.info("dropped client metadata over %d characters", MAX_METADATA_CHARS)
            return {}
    except (TypeError, ValueError, RecursionError):
        return {}
    return kept
