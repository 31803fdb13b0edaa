"""Data rights: consent, a readable export, and complete erasure.

Erasure removes the profile and, through ON DELETE CASCADE or explicitly, everything keyed to
it (orders, returns, interactions, sentiment, feedback, tickets, consent, segments, known
conversations). It also removes every conversation of the customer: the event rows a
conversation platform streamed into the `events` table, and the conversation keys in Redis;
then cached recommendations and the customer's rows in every stored model version. What
survives is the consent audit under the pseudonymous id (actions, times and counts, no
content), ending with the erasure: the proof of what was asked and done that a regulator asks
for. The steps live here; `personalization.jobs.erasure` runs them as a durable, retried job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import redis
from psycopg2.extras import Json

from personalization.auth.sign_in import sign_in_identifier_key
from personalization.experiments.assignment import conversation_unit_id
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.training import forget_customer as forget_in_recommender
from personalization.settings import ErasureSettings
from personalization.store import Database

log = logging.getLogger(__name__)

# A REST conversation opened with a customer's token is `rest:<customer>+<sender>`.
REST_PREFIX = "rest:"

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
        "SELECT order_id, stock_code, quantity, refund, status, reason, created_at "
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
    (
        "experiments",
        "SELECT a.experiment, e.description, a.arm, a.assigned_at, "
        "(SELECT count(*) FROM experiment_exposures x WHERE x.experiment = a.experiment "
        "AND x.unit_id = a.unit_id) AS conversations "
        "FROM experiment_assignments a JOIN experiments e ON e.name = a.experiment "
        "WHERE a.customer_id = %(id)s ORDER BY a.assigned_at",
    ),
)


_SINGLE_ROW_SECTIONS = {"profile", "consent", "segment"}


class PrivacyError(RuntimeError):
    """The request cannot be carried out, e.g. an unknown customer."""


@dataclass(frozen=True)
class ConversationStore:
    """Where Rasa keeps a conversation in Redis: its tracker and its lock.

    Keys are ``<prefix>:tracker:<conversation id>`` and ``<lock prefix>:lock:<conversation
    id>`` (Rasa's Redis tracker and lock stores with a key prefix).
    """

    redis_url: str
    key_prefix: str = "shopbot"
    timeout_s: float = 3.0
    lock_key_prefix: str | None = None

    @classmethod
    def from_env(cls) -> ConversationStore | None:
        settings = ErasureSettings.from_env()
        if not settings.redis_url:
            return None
        return cls(
            settings.redis_url,
            settings.tracker_key_prefix,
            settings.redis_timeout_s,
            settings.lock_key_prefix,
        )

    def key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}:tracker:{conversation_id}"

    def lock_key(self, conversation_id: str) -> str:
        return f"{self.lock_key_prefix or self.key_prefix}:lock:{conversation_id}"

    def delete(self, conversation_ids: set[str], rest_customer: str | None = None) -> int:
        """Delete the conversations' trackers and locks; returns how many keys existed.

        With ``rest_customer``, also every REST conversation of that customer
        (``rest:<customer>+<sender>``) found by a scan, whether or not PostgreSQL knows it.
        """
        if not conversation_ids and rest_customer is None:
            return 0
        client = redis.Redis.from_url(
            self.redis_url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
        )
        try:
            keys = {k for c in conversation_ids for k in (self.key(c), self.lock_key(c))}
            if rest_customer is not None:
                escaped = _redis_pattern(f"{REST_PREFIX}{rest_customer}+")
                for pattern in (self.key(escaped), self.lock_key(escaped)):
                    keys.update(k.decode() for k in client.scan_iter(pattern + "*", count=1000))
            deleted, ordered = 0, sorted(keys)
            for at in range(0, len(ordered), 500):
                deleted += int(client.delete(*ordered[at : at + 500]))
            return deleted
        finally:
            client.close()

    def rewrite_persistence(self) -> bool:
        """Ask Redis to rewrite its append-only file and snapshot, which still hold deleted
        trackers until then; False where the server refuses (a managed Redis may)."""
        client = redis.Redis.from_url(
            self.redis_url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
        )
        try:
            persistence = client.info("persistence")
            if persistence.get("aof_enabled"):
                client.bgrewriteaof()
            client.bgsave()
            return True
        except redis.ResponseError:  # disabled, or one already running: the next sweep's turn
            return False
        finally:
            client.close()


def _redis_pattern(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


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


def audit(
    cur: Any, customer_id: str, action: str, source: str, details: dict[str, Any] | None = None
) -> None:
    """One consent-audit entry: who (the pseudonymous id), what, from where, and counts."""
    cur.execute(
        "INSERT INTO consent_audit (customer_id, action, source, details) VALUES (%s, %s, %s, %s)",
        (customer_id, action, source, Json(details) if details is not None else None),
    )


_audit = audit


def personalization_allowed(db: Database, customer_id: str) -> bool:
    """Customers are personalised unless they opted out."""
    with db.cursor() as cur:
        cur.execute("SELECT personalization FROM consents WHERE customer_id = %s", (customer_id,))
        row = cur.fetchone()
    return True if row is None else bool(row["personalization"])


def set_personalization(
    db: Database,
    customer_id: str,
    allowed: bool,
    source: str,
    cache: RecommendationCache | None = None,
) -> None:
    """Record an opt-out or opt-in, with an audit entry; the same choice twice is one change.
    An opt-out also drops the customer's cached personal recommendations."""
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
    if not allowed and cache is not None:
        cache.forget_customer(customer_id)


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


# What the chat summary counts, with the label the customer reads.
_SUMMARY_COUNTS: tuple[tuple[str, str], ...] = (
    ("interactions", "product and article interactions"),
    ("message_sentiment", "message mood scores"),
    ("feedback", "feedback answers"),
    ("support_tickets", "support tickets"),
    ("returns", "returns"),
    ("return_requests", "return requests"),
)


def summarise_customer(
    db: Database, customer_id: str, source: str = "chat", statement_timeout_ms: int = 2000
) -> dict[str, Any]:
    """What the chat shows of an export: a profile, totals and counts, audited as an export.

    Bounded whatever the customer's history: a handful of indexed queries returning one row
    each, under their own statement timeout, so it fits in a chat turn's deadline.
    """
    with db.cursor() as cur:
        cur.execute("SET LOCAL statement_timeout = %s", (int(statement_timeout_ms),))
        cur.execute(_EXPORT_SECTIONS[0][1], {"id": customer_id})
        profile = cur.fetchone()
        if profile is None:
            raise PrivacyError(f"no customer {customer_id}")
        audit(cur, customer_id, "export", source)
        summary: dict[str, Any] = {"customer_id": customer_id, "profile": _readable(dict(profile))}
        for section, query in _EXPORT_SECTIONS[1:]:
            if section in ("consent", "segment"):
                cur.execute(query, {"id": customer_id})
                row = cur.fetchone()
                summary[section] = _readable(dict(row)) if row else None
        cur.execute(
            "SELECT count(*) AS n, coalesce(sum(total), 0)::float AS total, "
            "max(ordered_at) AS last FROM orders WHERE customer_id = %s",
            (customer_id,),
        )
        orders = cur.fetchone()
        summary["orders"] = {
            "count": orders["n"],
            "total": orders["total"],
            "last": orders["last"].date().isoformat() if orders["last"] else None,
        }
        counts = {}
        for table, _ in _SUMMARY_COUNTS:
            cur.execute(f"SELECT count(*) AS n FROM {table} WHERE customer_id = %s", (customer_id,))
            counts[table] = cur.fetchone()["n"]
        summary["counts"] = counts
    return summary


def readable_export(export: dict[str, Any]) -> str:
    """A few plain lines a customer can read in a chat, from a full export."""
    orders = export.get("orders") or []
    summary = {
        **export,
        "orders": {
            "count": len(orders),
            "total": sum(float(o.get("total") or 0) for o in orders),
            "last": max(str(o.get("ordered_at", ""))[:10] for o in orders) if orders else None,
        },
        "counts": {table: len(export.get(table) or []) for table, _ in _SUMMARY_COUNTS},
    }
    return readable_summary(summary)


def readable_summary(summary: dict[str, Any]) -> str:
    """A few plain lines a customer can read in a chat; the full export is the JSON."""
    profile = summary.get("profile") or {}
    lines = [
        f"Name: {profile.get('display_name') or 'not given'}",
        f"Email: {profile.get('email') or 'not given'}",
        f"Country: {profile.get('country') or 'not given'}",
    ]
    orders = summary.get("orders") or {}
    if orders.get("count"):
        lines.append(
            f"Orders: {orders['count']}, £{orders['total']:.2f} in total, "
            f"the last on {orders['last']}"
        )
    else:
        lines.append("Orders: none")
    segment = summary.get("segment")
    if segment:
        lines.append(
            f"Customer group: {segment['segment']} (from how recently, often and much you buy)"
        )
    consent = summary.get("consent")
    allowed = True if consent is None else bool(consent.get("personalization"))
    lines.append(f"Personalization: {'on' if allowed else 'off'}")
    preferences = profile.get("preferences") or {}
    if preferences:
        lines.append(
            "Preferences: " + ", ".join(f"{k} = {v}" for k, v in sorted(preferences.items()))
        )
    counts = summary.get("counts") or {}
    stored = [f"{counts[t]} {label}" for t, label in _SUMMARY_COUNTS if counts.get(t)]
    if stored:
        lines.append("Also stored: " + ", ".join(stored))
    return "\n".join(lines)
