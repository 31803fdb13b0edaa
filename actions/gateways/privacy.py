"""Data rights: the chat summary of an export, consent changes, and erasure requests.

An erasure is never carried out inside the chat turn. The request is recorded (in
PostgreSQL, or in Redis while PostgreSQL is down) and the worker carries it out; the chat
waits a moment for it, so the receipt says truthfully whether the data is already deleted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg2

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.jobs.erasure import (
    DONE,
    QUEUED,
    ErasureInbox,
    ErasureJobs,
    ErasureRequest,
)
from personalization.privacy import set_personalization, summarise_customer
from personalization.settings import ErasureSettings
from personalization.store import StoreUnavailable
from personalization.store.db import WorkCancelled, current_scope

log = logging.getLogger(__name__)

# Time kept back from the action deadline for the answer itself.
_DEADLINE_MARGIN_S = 0.5


@dataclass(frozen=True)
class ErasureReceipt:
    """What the customer can be told: ``done``, ``pending`` (in the table, the worker will
    do it within the promised minutes) or ``queued`` (kept in Redis until PostgreSQL is
    back)."""

    reference: str
    state: str
    promise_minutes: int

    @property
    def done(self) -> bool:
        return self.state == DONE


class Privacy(Protocol):
    async def summary(self, customer_id: str) -> Outcome[dict[str, Any]]:
        """The chat's export summary (audited); refused for an unknown customer."""
        ...

    async def set_personalization(self, customer_id: str, allowed: bool) -> Outcome[None]:
        """Opt out or back in (audited); refused for an unknown customer."""
        ...

    async def request_erasure(
        self, customer_id: str, conversation_ids: set[str]
    ) -> Outcome[ErasureReceipt]:
        """Record an erasure and wait briefly for it; unavailable only if it was not recorded
        anywhere."""
        ...


class StorePrivacy:
    async def summary(self, customer_id: str) -> Outcome[dict[str, Any]]:
        budget_ms = int(max(0.5, client.io_timeout_s() - _DEADLINE_MARGIN_S) * 1000)
        return await client.run(
            "export",
            lambda: summarise_customer(client.database(), customer_id, "chat", budget_ms),
        )

    async def set_personalization(self, customer_id: str, allowed: bool) -> Outcome[None]:
        return await client.run(
            "opt-in" if allowed else "opt-out",
            lambda: set_personalization(
                client.database(), customer_id, allowed, "chat", client.recommendation_cache()
            ),
        )

    async def request_erasure(
        self, customer_id: str, conversation_ids: set[str]
    ) -> Outcome[ErasureReceipt]:
        budget_s = client.io_timeout_s() - _DEADLINE_MARGIN_S

        def work() -> ErasureReceipt:
            started = time.monotonic()
            settings = ErasureSettings.from_env()
            request = ErasureRequest.new(customer_id, conversation_ids, "chat")
            minutes = settings.promise_minutes
            try:
                jobs = ErasureJobs(client.database(), settings)
                reference = jobs.record(request)
            except WorkCancelled:
                raise  # the deadline passed: the customer hears "not recorded", so record nothing
            except (StoreUnavailable, psycopg2.Error) as exc:
                scope = current_scope()
                if scope is not None and scope.cancelled:
                    # PostgreSQL failed after the deadline: the customer heard "not recorded".
                    raise WorkCancelled("the deadline passed before the request was kept") from exc
                log.warning(
                    "erasure request kept in Redis: PostgreSQL failed (%s)", type(exc).__name__
                )
                ErasureInbox(settings).push(request)
                return ErasureReceipt(request.reference, QUEUED, minutes)
            wait_s = min(settings.confirm_wait_s, budget_s - (time.monotonic() - started))
            try:
                state = jobs.wait_for(reference, wait_s)
            except (StoreUnavailable, psycopg2.Error):
                state = None  # recorded all the same: the worker will do it
            return ErasureReceipt(reference, DONE if state == DONE else "pending", minutes)

        return await client.run("erasure request", work)


privacy_store: Provider[Privacy] = Provider(StorePrivacy)
