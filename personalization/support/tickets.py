"""Hand-offs to a person: a ticket with a summary a human can act on without rereading the chat.

The summary quotes the customer's last messages, so it is masked (personalization.redaction)
before it is stored: an agent sees "[email]" or "[card]", never the value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from personalization.redaction import redact, storable_value
from personalization.store import Database

REASONS = (
    "customer_request",
    "worsening_mood",
    "repeated_fallback",
    "vip_problem",
    "billing_distress",
    "late_order",
    "complaint",
)
PRIORITY_BY_TIER = {"vip": "high"}


@dataclass(frozen=True)
class Ticket:
    id: int
    priority: str
    created: bool  # False when the conversation already had an open ticket


def summarise(turns: list[tuple[str, str]], limit: int = 6, width: int = 160) -> str:
    """The last few turns, one line each, masked then shortened (so no cut hides a number)."""
    lines = []
    for speaker, text in turns[-limit:]:
        text = " ".join(redact(text).split())
        if len(text) > width:
            text = text[: width - 1] + "…"
        lines.append(f"{speaker}: {text}")
    return "\n".join(lines) if lines else "(no conversation yet)"


def priority_for(reason: str, tier: str | None, mood: float, keep_close: bool = False) -> str:
    """``keep_close``: a valuable customer at high churn risk (churn.retention) is answered
    first, like a VIP."""
    if reason in ("worsening_mood", "billing_distress"):
        return "urgent" if mood < -0.5 else "high"
    if tier == "vip" or keep_close or reason in ("vip_problem", "late_order"):
        return "high"
    return "normal"


def promised_wait(priority: str) -> str:
    """What the customer is told about when a person will answer, by the ticket's priority."""
    return "within the hour" if priority in ("high", "urgent") else "within one working day"


class TicketRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def open(
        self,
        customer_id: str | None,
        conversation_id: str,
        reason: str,
        priority: str,
        summary: str,
        context: dict[str, Any],
    ) -> Ticket:
        """One open ticket per conversation: a second hand-off adds to the first.

        ``summary`` is masked here too, whoever built it.
        """
        if reason not in REASONS:
            raise ValueError(f"unknown hand-off reason {reason!r}")
        # NUL bytes and lone surrogates (a client can send both) are replaced, never an error.
        summary = redact(summary)
        context_json = json.dumps(storable_value(context), ensure_ascii=False)
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT id, priority FROM support_tickets
                   WHERE conversation_id = %s AND status <> 'closed'
                   ORDER BY created_at DESC LIMIT 1 FOR UPDATE""",
                (conversation_id,),
            )
            existing = cur.fetchone()
            if existing is not None:
                cur.execute(
                    """UPDATE support_tickets SET summary = %s, updated_at = now(),
                              context = context || %s::jsonb
                       WHERE id = %s""",
                    (summary, context_json, existing["id"]),
                )
                return Ticket(existing["id"], existing["priority"], created=False)
            cur.execute(
                """INSERT INTO support_tickets (customer_id, conversation_id, priority, reason,
                                                summary, context)
                   VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                (customer_id, conversation_id, priority, reason, summary, context_json),
            )
            return Ticket(cur.fetchone()["id"], priority, created=True)
