"""Data rights: consent, a readable export, and complete erasure.

Erasure removes the profile and, through ON DELETE CASCADE, everything keyed to it (orders,
returns, interactions, sentiment, feedback, tickets, consent and segments). It also removes
the customer's conversations: the event rows a conversation platform streamed into the
`events` table, and the conversation keys in Redis. What survives is the consent audit under
the pseudonymous id (actions and times, no content), ending with the erasure: the proof of what
was asked and done that a regulator asks for.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import redis

from personalization.auth.sign_in import sign_in_identifier_key
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.training import forget_customer as forget_in_recommender
from personalization.store import Database

log = logging.getLogger(__name__)

# Tables that hold conversation ids of a customer, besides the customer id itself.
_CONVERSATION_SOURCES = (
    "message_sentiment",
    "feedback",
    "support_tickets",
    "return_requests",
    "identity_proofs",
    "sign_in_attempts",
)
# What an export contains, in order: section name and the query for it.
_EXPORT_SECTIONS: tuple[tuple[str, str], ...] = (
    (
        "profile",
        "SELECT id, display_name, email, country, language, preferences, created_at, "
        "updated_at FROM customers WHERE id = %(id)s",
    ),
    ("consent", "SELECT personalization, updated_at FROM consents WHERE customer_id = %(id)s"),
    (
        "consent_history",
        "SELECT action, source, changed_at FROM consent_audit "
        "WHERE customer_id = %(id)s ORDER BY changed_at",
    ),
    (
        "segment",
        "SELECT segment, r_score, f_score, m_score, recency_days, frequency, monetary, "
        "assigned_at FROM segment_assignments WHERE customer_id = %(id)s",
    ),
    (
        "segment_history",
        "SELECT segment, r_score, f_score, m_score, assigned_at "
        "FROM segment_history WHERE customer_id = %(id)s ORDER BY assigned_at",
    ),
    (
        "orders",
        "SELECT o.id, o.ordered_at, o.status, o.total, json_agg(json_build_object("
        "'stock_code', l.stock_code, 'description', p.description, "
        "'quantity', l.quantity, 'unit_price', l.unit_price) ORDER BY l.line_no) AS lines "
        "FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id "
        "LEFT JOIN products p ON p.stock_code = l.stock_code "
        "WHERE o.customer_id = %(id)s GROUP BY o.id ORDER BY o.ordered_at",
    ),
    (
        "identity_proofs",
        "SELECT conversation_id, channel, method, verified_at, expires_at "
        "FROM identity_proofs WHERE customer_id = %(id)s ORDER BY verified_at",
    ),
    (
        "sign_ins",
        "SELECT conversation_id, channel, outcome, attempted_at "
        "FROM sign_in_attempts WHERE customer_id = %(id)s ORDER BY attempted_at",
    ),
    (
        "returns",
        "SELECT invoice_id, stock_code, quantity, unit_price, returned_at, reason "
        "FROM returns WHERE customer_id = %(id)s ORDER BY returned_at",
    ),
    (
        "return_requests",
        "SELECT order_id, stock_code, quantity, refund, status, created_at "
        "FROM return_requests WHERE customer_id = %(id)s ORDER BY created_at",
    ),
    (
        "interactions",
        "SELECT kind, item_id, occurred_at FROM interactions "
        "WHERE customer_id = %(id)s ORDER BY occurred_at",
    ),
    (
        "message_sentiment",
        "SELECT conversation_id, score, label, created_at "
        "FROM message_sentiment WHERE customer_id = %(id)s ORDER BY created_at",
    ),
    (
        "feedback",
        "SELECT conversation_id, kind, value, created_at FROM feedback "
        "WHERE customer_id = %(id)s ORDER BY created_at",
    ),
    (
        "support_tickets",
        "SELECT id, status, priority, reason, summary, created_at "
        "FROM support_tickets WHERE customer_id = %(id)s ORDER BY created_at",
    ),
)


_SINGLE_ROW_SECTIONS = {"profile", "consent", "segment"}


class PrivacyError(RuntimeError):
    """The request cannot be carried out, e.g. an unknown customer."""


@dataclass(frozen=True)
class ConversationStore:
    """Where conversation trackers live in Redis: `<prefix>:tracker:<conversation id>`."""

    redis_url: str
    key_prefix: str = "shopbot"
    timeout_s: float = 3.0

    @classmethod
    def from_env(cls) -> ConversationStore | None:
        url = os.environ.get("REDIS_URL", "").strip()
        if not url:
            return None
        return cls(url, os.environ.get("TRACKER_KEY_PREFIX", "shopbot") or "shopbot")

    def key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}:tracker:{conversation_id}"

    def delete(self, conversation_ids: set[str]) -> int:
        if not conversation_ids:
            return 0
        client = redis.Redis.from_url(
            self.redis_url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
        )
        try:
            return int(client.delete(*(self.key(c) for c in sorted(conversation_ids))))
        finally:
            client.close()


@dataclass
class ErasureReport:
    customer_id: str
    rows_deleted: dict[str, int] = field(default_factory=dict)
    conversations: int = 0
    event_rows_deleted: int = 0
    redis_keys_deleted: int | None = None
    cached_recommendations_deleted: int | None = None
    recommender_versions_pruned: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "rows_deleted": self.rows_deleted,
            "conversations": self.conversations,
            "event_rows_deleted": self.event_rows_deleted,
            "redis_keys_deleted": self.redis_keys_deleted
            if self.redis_keys_deleted is not None
            else "not configured (REDIS_URL unset)",
            "cached_recommendations_deleted": self.cached_recommendations_deleted,
            "recommender_versions_pruned": self.recommender_versions_pruned,
        }


def _audit(cur: Any, customer_id: str, action: str, source: str) -> None:
    cur.execute(
        "INSERT INTO consent_audit (customer_id, action, source) VALUES (%s, %s, %s)",
        (customer_id, action, source),
    )


def personalization_allowed(db: Database, customer_id: str) -> bool:
    """Customers are personalised unless they opted out."""
    with db.cursor() as cur:
        cur.execute("SELECT personalization FROM consents WHERE customer_id = %s", (customer_id,))
        row = cur.fetchone()
    return True if row is None else bool(row["personalization"])


def set_personalization(db: Database, customer_id: str, allowed: bool, source: str) -> None:
    """Record an opt-out or opt-in, with an audit entry; the same choice twice is one change."""
    with db.cursor() as cur:
        cur.execute("SELECT 1 FROM customers WHERE id = %s", (customer_id,))
        if cur.fetchone() is None:
            raise PrivacyError(f"no customer {customer_id}")
        cur.execute(
            """INSERT INTO consents (customer_id, personalization) VALUES (%s, %s)
               ON CONFLICT (customer_id) DO UPDATE
               SET personalization = EXCLUDED.personalization, updated_at = now()
               WHERE consents.personalization IS DISTINCT FROM EXCLUDED.personalization
               RETURNING 1""",
            (customer_id, allowed),
        )
        if cur.fetchone() is not None:
            _audit(cur, customer_id, "opt_in" if allowed else "opt_out", source)


def _readable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_readable(v) for v in value]
    if isinstance(value, dict):
        return {k: _readable(v) for k, v in value.items()}
    return value


def export_customer(db: Database, customer_id: str, source: str = "cli") -> dict[str, Any]:
    """Everything stored about the customer, as plain JSON-ready data; the export is audited."""
    export: dict[str, Any] = {"customer_id": customer_id}
    with db.cursor() as cur:
        cur.execute("SELECT 1 FROM customers WHERE id = %s", (customer_id,))
        if cur.fetchone() is None:
            raise PrivacyError(f"no customer {customer_id}")
        _audit(cur, customer_id, "export", source)
        for section, query in _EXPORT_SECTIONS:
            cur.execute(query, {"id": customer_id})
            rows = [_readable(dict(row)) for row in cur.fetchall()]
            single = section in _SINGLE_ROW_SECTIONS
            export[section] = (rows[0] if rows else None) if single else rows
    return export


def erase_customer(
    db: Database,
    customer_id: str,
    conversations: ConversationStore | None = None,
    source: str = "cli",
    recommendations: RecommendationCache | None = None,
    registry: ModelRegistry | None = None,
    sign_in_key: bytes | None = None,
) -> ErasureReport:
    """Delete the customer everywhere; raises PrivacyError for an unknown id.

    With ``sign_in_key`` (IDENTITY_KEY), failed sign-ins against the customer go too: they
    carry no customer id, only the keyed hash of it.
    """
    report = ErasureReport(customer_id)
    with db.cursor() as cur:
        cur.execute("SELECT 1 FROM customers WHERE id = %s FOR UPDATE", (customer_id,))
        if cur.fetchone() is None:
            raise PrivacyError(f"no customer {customer_id}")
        conversation_ids = {customer_id}
        for table in _CONVERSATION_SOURCES:
            cur.execute(
                f"SELECT DISTINCT conversation_id FROM {table} WHERE customer_id = %s",
                (customer_id,),
            )
            conversation_ids.update(row["conversation_id"] for row in cur.fetchall())
        for table in _tables_keyed_by_customer(cur):
            cur.execute(f"SELECT count(*) AS n FROM {table} WHERE customer_id = %s", (customer_id,))
            count = cur.fetchone()["n"]
            if count:
                report.rows_deleted[table] = count
        cur.execute("DELETE FROM customers WHERE id = %s", (customer_id,))
        report.rows_deleted["customers"] = cur.rowcount
        if sign_in_key:
            cur.execute(
                "DELETE FROM sign_in_attempts WHERE identifier_key = %s",
                (sign_in_identifier_key(sign_in_key, customer_id),),
            )
            if cur.rowcount:
                report.rows_deleted["sign_in_attempts"] = (
                    report.rows_deleted.get("sign_in_attempts", 0) + cur.rowcount
                )
        cur.execute("SELECT to_regclass('events') IS NOT NULL AS present")
        if cur.fetchone()["present"]:
            cur.execute("DELETE FROM events WHERE sender_id = ANY(%s)", (list(conversation_ids),))
            report.event_rows_deleted = cur.rowcount
        _audit(cur, customer_id, "erase", source)
    report.conversations = len(conversation_ids)
    if conversations is not None:
        report.redis_keys_deleted = conversations.delete(conversation_ids)
    if recommendations is not None:
        report.cached_recommendations_deleted = recommendations.forget_customer(customer_id)
    if registry is not None:
        report.recommender_versions_pruned = forget_in_recommender(registry, customer_id)
    log.info("erased customer %s: %s", customer_id, report.rows_deleted)
    return report


def _tables_keyed_by_customer(cur: Any) -> list[str]:
    cur.execute(
        """SELECT DISTINCT table_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND column_name = 'customer_id'
             AND table_name <> 'consent_audit'
           ORDER BY table_name"""
    )
    return [row["table_name"] for row in cur.fetchall()]


def forget_conversation(
    db: Database, conversation_ids: set[str], conversations: ConversationStore | None
) -> tuple[int, int | None]:
    """Delete conversations' event rows and Redis trackers; (event rows, Redis keys) deleted.

    Used after an erasure requested inside a conversation: the conversation platform saves
    that very conversation once more after the request was answered.
    """
    ids = sorted(conversation_ids)
    with db.cursor() as cur:
        cur.execute("SELECT to_regclass('events') IS NOT NULL AS present")
        rows = 0
        if cur.fetchone()["present"]:
            cur.execute("DELETE FROM events WHERE sender_id = ANY(%s)", (ids,))
            rows = cur.rowcount
    keys = conversations.delete(set(ids)) if conversations is not None else None
    return rows, keys


def readable_export(export: dict[str, Any]) -> str:
    """A few plain lines a customer can read in a chat; the full export is the JSON."""
    profile = export.get("profile") or {}
    lines = [
        f"Name: {profile.get('display_name') or 'not given'}",
        f"Email: {profile.get('email') or 'not given'}",
        f"Country: {profile.get('country') or 'not given'}",
    ]
    orders = export.get("orders") or []
    if orders:
        total = sum(float(o.get("total") or 0) for o in orders)
        last = max(str(o.get("ordered_at", ""))[:10] for o in orders)
        lines.append(f"Orders: {len(orders)}, £{total:.2f} in total, the last on {last}")
    else:
        lines.append("Orders: none")
    segment = export.get("segment")
    if segment:
        lines.append(
            f"Customer group: {segment['segment']} (from how recently, often and much you buy)"
        )
    consent = export.get("consent")
    allowed = True if consent is None else bool(consent.get("personalization"))
    lines.append(f"Personalization: {'on' if allowed else 'off'}")
    preferences = profile.get("preferences") or {}
    if preferences:
        lines.append(
            "Preferences: " + ", ".join(f"{k} = {v}" for k, v in sorted(preferences.items()))
        )
    counts = [
        (len(export.get(section) or []), label)
        for section, label in (
            ("interactions", "product and article interactions"),
            ("message_sentiment", "message mood scores"),
            ("feedback", "feedback answers"),
            ("support_tickets", "support tickets"),
            ("returns", "returns"),
            ("return_requests", "return requests"),
        )
    ]
    stored = [f"{n} {label}" for n, label in counts if n]
    if stored:
        lines.append("Also stored: " + ", ".join(stored))
    return "\n".join(lines)
