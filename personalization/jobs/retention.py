"""Retention: records older than their configured period are deleted, run by the worker.

Each rule deletes in small batches, one transaction each, so a large backlog never holds
long locks or outlives the statement timeout, and an interrupted run simply continues next
time. A period of 0 keeps that kind of record forever. Only counts are logged.

Rules (periods from `RetentionSettings`):

- conversation events (`events`, by the event's own timestamp);
- support tickets untouched since the period began (closed ones included), by `updated_at`;
- feedback, by `created_at`, and experiment exposures (by `exposed_at`) with it, then the
  assignments left without any conversation;
- events set aside by the broker (`event_dead_letters`, where that table exists);
- finished erasure jobs (the consent audit keeps the proof and the counts);
- the words of customers who opted out of personalization: the text (and what the NLU found
  in it) of their own messages is removed once the message is older than a few hours.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from personalization.experiments.repository import delete_unexposed_assignments
from personalization.settings import RetentionSettings
from personalization.store import Database

log = logging.getLogger(__name__)

# Where a customer's conversations are named, besides `customer_conversations`.
_CONVERSATION_TABLES = ("identity_proofs", "message_sentiment", "feedback", "support_tickets")

# An opted-out customer's message without its words: the intent stays (no one's words).
_WITHOUT_WORDS = """(
    (event_json(data) || jsonb_build_object('text', NULL, 'text_removed', true))
    #- '{parse_data,text}' #- '{parse_data,entities}'
)::text"""


class Retention:
    def __init__(self, db: Database, settings: RetentionSettings | None = None) -> None:
        self._db = db
        self._settings = settings or RetentionSettings.from_env()

    def run(self) -> dict[str, int]:
        """Apply every rule once; returns how many records each rule deleted or blanked."""
        started = time.monotonic()
        s = self._settings
        counts = {
            "events": self._expire_events(s.event_days),
            "support_tickets": self._delete_older("support_tickets", "updated_at", s.ticket_days),
            "feedback": self._delete_older("feedback", "created_at", s.feedback_days),
            # An exposure is kept as long as the feedback it is measured by.
            "experiment_exposures": self._delete_older(
                "experiment_exposures", "exposed_at", s.feedback_days, key="ctid"
            ),
            "experiment_assignments": self._delete_unexposed_assignments(s.feedback_days),
            "event_dead_letters": self._delete_older(
                "event_dead_letters", "failed_at", s.dead_letter_days
            ),
            "erasure_jobs": self._delete_older(
                "erasure_jobs",
                "completed_at",
                s.erasure_job_days,
                "status = 'done' AND sweep_after IS NULL",
            ),
            "opted_out_texts": self._remove_opted_out_words(s.opted_out_text_hours),
        }
        log.info(
            "retention run in %.1fs: %s",
            time.monotonic() - started,
            ", ".join(f"{name}={n}" for name, n in counts.items()),
        )
        return counts

    def _present(self, table: str) -> bool:
        with self._db.cursor() as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (table,))
            return bool(cur.fetchone()["present"])

    def _timeout(self, cur: Any) -> None:
        cur.execute("SET LOCAL statement_timeout = %s", (self._settings.statement_timeout_ms,))

    def _delete_older(
        self, table: str, column: str, days: int, condition: str = "TRUE", key: str = "id"
    ) -> int:
        """Delete rows whose ``column`` is older than ``days``, a batch per transaction
        (``key`` picks the batch: a table without an ``id`` uses the row's ``ctid``)."""
        if days <= 0 or not self._present(table):
            return 0
        deleted = 0
        while True:
            with self._db.cursor() as cur:
                self._timeout(cur)
                cur.execute(
                    f"""DELETE FROM {table} WHERE {key} IN (
                            SELECT {key} FROM {table}
                            WHERE {column} < now() - make_interval(days => %s) AND {condition}
                            LIMIT %s)""",
                    (days, self._settings.batch_size),
                )
                count = cur.rowcount
            deleted += count
            if count < self._settings.batch_size:
                return deleted

    def _delete_unexposed_assignments(self, days: int) -> int:
        """Assignments whose conversations have all expired go with them."""
        if days <= 0 or not self._present("experiment_assignments"):
            return 0
        with self._db.cursor() as cur:
            self._timeout(cur)
            return delete_unexposed_assignments(cur)

    def _expire_events(self, days: int) -> int:
        """Delete events older than ``days``, walking the table in id (arrival) order.

        The walk stops at the first event still within the period: events arrive roughly in
        time order, so this reads only the expired head of the table, not all of it. An event
        the broker wrote late (after an outage) is deleted once the walk reaches it. A row
        without a readable timestamp is deleted with the expired events that follow it.
        """
        if days <= 0 or not self._present("events"):
            return 0
        cutoff = datetime.now(timezone.utc) - timedelta(days=days)
        deleted, after = 0, 0
        while True:
            with self._db.cursor() as cur:
                self._timeout(cur)
                cur.execute(
                    "SELECT id, event_time(data) AS at FROM events WHERE id > %s "
                    "ORDER BY id LIMIT %s",
                    (after, self._settings.batch_size),
                )
                rows = cur.fetchall()
                expired: list[int] = []
                undated: list[int] = []
                fresh = False
                for row in rows:
                    if row["at"] is None:
                        undated.append(row["id"])
                    elif row["at"] < cutoff:
                        expired += [*undated, row["id"]]
                        undated = []
                    else:
                        fresh = True
                        break
                if expired:
                    cur.execute("DELETE FROM events WHERE id = ANY(%s)", (expired,))
                    deleted += cur.rowcount
            if fresh or len(rows) < self._settings.batch_size:
                return deleted
            after = rows[-1]["id"]

    def _remove_opted_out_words(self, hours: int) -> int:
        """Blank the words of opted-out customers' messages older than ``hours``."""
        if hours <= 0 or not self._present("events"):
            return 0
        sources = list(_CONVERSATION_TABLES)
        if self._present("customer_conversations"):
            sources.append("customer_conversations")
        named = " UNION ".join(
            f"SELECT conversation_id FROM {t} WHERE customer_id IN (SELECT id FROM opted)"
            for t in sources
        )
        blanked = 0
        while True:
            with self._db.cursor() as cur:
                self._timeout(cur)
                cur.execute(
                    f"""WITH opted AS (
                            SELECT customer_id AS id FROM consents WHERE NOT personalization),
                        conversations AS (
                            {named} UNION SELECT id FROM opted),
                        due AS (
                            SELECT e.id FROM events e
                            WHERE (e.sender_id IN (SELECT conversation_id FROM conversations)
                                   OR EXISTS (SELECT 1 FROM opted o WHERE starts_with(
                                       e.sender_id, 'rest:' || o.id || '+')))
                              AND event_json(e.data) ->> 'event' = 'user'
                              AND (event_json(e.data) ->> 'text' IS NOT NULL
                                   OR event_json(e.data) #> '{{parse_data,text}}' IS NOT NULL)
                              AND event_time(e.data) < now() - make_interval(hours => %s)
                            LIMIT %s)
                        UPDATE events SET data = {_WITHOUT_WORDS}
                        WHERE id IN (SELECT id FROM due)""",
                    (hours, self._settings.batch_size),
                )
                count = cur.rowcount
            blanked += count
            if count < self._settings.batch_size:
                return blanked
