"""Erasure, step by step: rows in PostgreSQL, conversations in Redis, cached lists and every
stored model version. `personalization.jobs.erasure` runs these steps as a durable job."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from personalization.auth.sign_in import sign_in_identifier_key
from personalization.experiments.assignment import conversation_unit_id
from personalization.privacy.consent import PrivacyError, audit
from personalization.privacy.tracker_store import REST_PREFIX, ConversationStore
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

    def counts(self) -> dict[str, Any]:
        """The report without the customer id: what an audit entry or a job row may keep."""
        return {k: v for k, v in self.as_dict().items() if k != "customer_id"}


def erase_customer(
    db: Database,
    customer_id: str,
    conversations: ConversationStore | None = None,
    source: str = "cli",
    recommendations: RecommendationCache | None = None,
    registry: ModelRegistry | None = None,
    sign_in_key: bytes | None = None,
) -> ErasureReport:
    """Delete the customer everywhere, at once; raises PrivacyError for an unknown id.

    The chat and the CLI go through the durable job (`personalization.jobs.erasure`), which
    runs the same steps with retries. With ``sign_in_key`` (IDENTITY_KEY), failed sign-ins
    against the customer go too: they carry no customer id, only the keyed hash of it.
    """
    with db.cursor() as cur:
        cur.execute("SELECT 1 FROM customers WHERE id = %s", (customer_id,))
        if cur.fetchone() is None:
            raise PrivacyError(f"no customer {customer_id}")
        report, conversation_ids = erase_records(cur, customer_id, set(), sign_in_key)
        audit(cur, customer_id, "erase", source)
    forget_elsewhere(report, conversation_ids, conversations, recommendations, registry)
    log.info("erased a customer: %d tables", len(report.rows_deleted))
    return report


def _table_present(cur: Any, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (table,))
    return bool(cur.fetchone()["present"])


def customer_conversations(cur: Any, customer_id: str) -> set[str]:
    """Every conversation id known to belong to the customer.

    The customer id itself, conversations named in the customer's own rows, those recorded
    when identity was proven (``customer_conversations``, where that table exists), and
    event rows under ``rest:<customer>+...`` (a REST conversation with the customer's token).
    """
    found = {customer_id}
    sources = list(_CONVERSATION_SOURCES)
    if _table_present(cur, "customer_conversations"):
        sources.append("customer_conversations")
    for table in sources:
        cur.execute(
            f"SELECT DISTINCT conversation_id FROM {table} WHERE customer_id = %s",
            (customer_id,),
        )
        found.update(row["conversation_id"] for row in cur.fetchall())
    if _table_present(cur, "events"):
        cur.execute(
            "SELECT DISTINCT sender_id FROM events WHERE starts_with(sender_id, %s)",
            (f"{REST_PREFIX}{customer_id}+",),
        )
        found.update(row["sender_id"] for row in cur.fetchall())
    return found


def erase_records(
    cur: Any, customer_id: str, known_conversations: set[str], sign_in_key: bytes | None
) -> tuple[ErasureReport, set[str]]:
    """Delete the customer's rows and conversation events in one transaction (``cur``'s).

    Idempotent: a customer already gone is no error, their conversations' events still go.
    Returns the counts and every conversation id of the customer, for the stores outside
    PostgreSQL.
    """
    report = ErasureReport(customer_id)
    cur.execute("SELECT 1 FROM customers WHERE id = %s FOR UPDATE", (customer_id,))
    conversation_ids = customer_conversations(cur, customer_id) | set(known_conversations)
    tables = _tables_keyed_by_customer(cur)
    for table in tables:
        cur.execute(f"SELECT count(*) AS n FROM {table} WHERE customer_id = %s", (customer_id,))
        count = cur.fetchone()["n"]
        if count:
            report.rows_deleted[table] = count
    cur.execute("DELETE FROM customers WHERE id = %s", (customer_id,))
    if cur.rowcount:
        report.rows_deleted["customers"] = cur.rowcount
    for table in tables:  # rows no foreign key cascades to, e.g. customer_conversations
        cur.execute(f"DELETE FROM {table} WHERE customer_id = %s", (customer_id,))
    if sign_in_key:
        cur.execute(
            "DELETE FROM sign_in_attempts WHERE identifier_key = %s",
            (sign_in_identifier_key(sign_in_key, customer_id),),
        )
        if cur.rowcount:
            report.rows_deleted["sign_in_attempts"] = (
                report.rows_deleted.get("sign_in_attempts", 0) + cur.rowcount
            )
    report.event_rows_deleted = delete_events(cur, conversation_ids)
    report.conversations = len(conversation_ids)
    return report, conversation_ids


def delete_events(cur: Any, conversation_ids: set[str]) -> int:
    """Delete the event rows of these conversations; the number of `events` rows deleted.

    What the broker recorded beside them goes too: events it set aside (dead letters), and
    the conversations' link to a customer, which it writes again from the last turn's events
    after an erasure (the sweeps remove that late arrival).
    """
    if not conversation_ids:
        return 0
    ids = sorted(conversation_ids)
    for table, column in (
        ("event_dead_letters", "sender_id"),
        ("customer_conversations", "conversation_id"),
        ("experiment_exposures", "conversation_id"),
    ):
        if _table_present(cur, table):
            cur.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", (ids,))
    if _table_present(cur, "experiment_assignments"):  # anonymous units are conversations
        cur.execute(
            "DELETE FROM experiment_assignments WHERE unit_id = ANY(%s)",
            ([conversation_unit_id(c) for c in ids],),
        )
    if not _table_present(cur, "events"):
        return 0
    cur.execute("DELETE FROM events WHERE sender_id = ANY(%s)", (ids,))
    return int(cur.rowcount)


def forget_elsewhere(
    report: ErasureReport,
    conversation_ids: set[str],
    conversations: ConversationStore | None,
    recommendations: RecommendationCache | None,
    registry: ModelRegistry | None,
) -> None:
    """Redis trackers and locks, cached recommendations and every stored model version.

    Each step is idempotent and raises on failure (Redis down, a disk error), so a job
    retries it rather than reporting an erasure that did not happen.
    """
    customer_id = report.customer_id
    if conversations is not None:
        report.redis_keys_deleted = conversations.delete(conversation_ids, customer_id)
    if recommendations is not None:
        report.cached_recommendations_deleted = recommendations.forget_customer(customer_id)
    if registry is not None:
        report.recommender_versions_pruned = forget_in_recommender(registry, customer_id)


# Tables with a customer_id column that are not the customer's data: the proof of what was
# asked and done, and the queue of erasures still to do.
_NOT_CUSTOMER_DATA = ("consent_audit", "erasure_jobs")


def _tables_keyed_by_customer(cur: Any) -> list[str]:
    cur.execute(
        """SELECT DISTINCT table_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND column_name = 'customer_id'
             AND table_name <> ALL(%s)
           ORDER BY table_name""",
        (list(_NOT_CUSTOMER_DATA),),
    )
    return [row["table_name"] for row in cur.fetchall()]


def forget_conversation(
    db: Database, conversation_ids: set[str], conversations: ConversationStore | None
) -> tuple[int, int | None]:
    """Delete conversations' event rows and Redis trackers; (event rows, Redis keys) deleted.

    Used after an erasure requested inside a conversation: the conversation platform saves
    that very conversation once more after the request was answered.
    """
    with db.cursor() as cur:
        rows = delete_events(cur, conversation_ids)
    keys = conversations.delete(set(conversation_ids)) if conversations is not None else None
    return rows, keys
