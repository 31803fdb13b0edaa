"""The in-chat sign-in, guarded against guessing.

A visitor names an email or customer number and proves it with one of that customer's order
numbers. Failures are counted per identifier and per client across all conversations, in
PostgreSQL, so a new conversation id buys no new tries. Past the limit, the identifier (or the
client) is locked for a window, and even a right answer is refused until it ends. Every
attempt leaves an audit row with keyed hashes instead of the email and the address. Unknown
identifiers, wrong orders and lock-outs look the same from outside where they can.

Only a real wrong answer counts. The checks and the audit row are one transaction, so a store
that is down, too slow (statement timeout) or cancelled at the caller's deadline raises
`StoreUnavailable` and leaves no attempt behind: an outage never costs a customer a try.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

from personalization.auth.proof import opaque
from personalization.settings import SignInSettings
from personalization.store import Database
from personalization.support.orders import normalise_order_number

log = logging.getLogger(__name__)


def sign_in_identifier_key(key: bytes, identifier: str) -> str:
    """What sign-in attempts are counted and audited under: a customer id, or an unknown
    identifier, never in the clear."""
    return opaque(key, f"sign-in:{identifier}")


class Outcome(str, Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    LOCKED = "locked"


@dataclass(frozen=True)
class SignInResult:
    outcome: Outcome
    customer_id: str | None = None


class SignInGuard:
    def __init__(self, db: Database, settings: SignInSettings, key: bytes) -> None:
        self._db = db
        self._settings = settings
        self._key = key

    def attempt(
        self,
        identifier: str,
        order_number: str | None,
        client: str,
        conversation_id: str,
        channel: str,
    ) -> SignInResult:
        """Check one attempt and record it; the identifier is already normalised.

        Failures count against the customer the identifier names (so an email and a customer
        number share one budget) or, for an unknown identifier, against the identifier.
        Refused attempts during a lock-out do not extend it. Raises `StoreUnavailable`, with
        nothing recorded, when the store cannot answer.
        """
        with self._db.cursor() as cur:
            customer_id = _customer_named(cur, identifier)
            identifier_key = sign_in_identifier_key(self._key, customer_id or identifier.lower())
            # One attempt at a time per identifier and per client (always in this order), so
            # parallel guesses cannot overrun either limit.
            for lock in (identifier_key, f"client:{client}"):
                cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
            cur.execute(
                """SELECT
                     count(*) FILTER (WHERE identifier_key = %(identifier)s) AS by_identifier,
                     count(*) FILTER (WHERE client_key = %(client)s) AS by_client
                   FROM sign_in_attempts
                   WHERE outcome = 'failure'
                     AND attempted_at > now() - make_interval(secs => %(window)s)
                     AND (identifier_key = %(identifier)s OR client_key = %(client)s)""",
                {
                    "identifier": identifier_key,
                    "client": client,
                    "window": self._settings.lockout_s,
                },
            )
            counts = cur.fetchone()
            if (
                counts["by_identifier"] >= self._settings.max_failures_per_identifier
                or counts["by_client"] >= self._settings.max_failures_per_client
            ):
                outcome, proven = Outcome.LOCKED, None
            elif customer_id and _placed_order(cur, customer_id, order_number):
                outcome, proven = Outcome.SUCCESS, customer_id
            else:
                outcome, proven = Outcome.FAILURE, None
            cur.execute(
                """INSERT INTO sign_in_attempts
                     (identifier_key, client_key, conversation_id, channel, outcome, customer_id)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (identifier_key, client, conversation_id, channel, outcome.value, proven),
            )
        log.info("sign-in attempt on %s: %s", channel, outcome.value)
        return SignInResult(outcome, proven)


def _customer_named(cur: Any, identifier: str) -> str | None:
    """The customer an email or customer number names, on the caller's cursor."""
    if "@" in identifier:
        cur.execute("SELECT id FROM customers WHERE lower(email) = lower(%s)", (identifier,))
    else:
        cur.execute("SELECT id FROM customers WHERE id = %s", (identifier,))
    row = cur.fetchone()
    return row["id"] if row else None


def _placed_order(cur: Any, customer_id: str, order_number: str | None) -> bool:
    order_id = normalise_order_number(order_number)
    if order_id is None:
        return False
    cur.execute("SELECT 1 FROM orders WHERE id = %s AND customer_id = %s", (order_id, customer_id))
    return cur.fetchone() is not None


def record_proof(
    db: Database,
    conversation_id: str,
    customer_id: str,
    channel: str,
    method: str,
    verified_at: float,
    expires_at: float,
) -> None:
    """Keep the proof beside the conversation, so audits and erasure find it."""
    with db.cursor() as cur:
        cur.execute(
            """INSERT INTO identity_proofs
                 (conversation_id, customer_id, channel, method, verified_at, expires_at)
               SELECT %s, id, %s, %s, to_timestamp(%s), to_timestamp(%s)
               FROM customers WHERE id = %s""",
            (conversation_id, channel, method, verified_at, expires_at, customer_id),
        )
