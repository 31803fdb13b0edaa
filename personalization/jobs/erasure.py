"""Erasure as a durable job: recorded at once, carried out by the worker, retried, audited.

A request becomes a row of `erasure_jobs` (or, while PostgreSQL is down, an entry of a Redis
list that the worker moves into the table later). The worker claims due jobs with
``FOR UPDATE SKIP LOCKED`` and a lease, so several workers never run one job at the same time
and a job whose worker died is picked up again once its lease ends. Every step is
idempotent, so running a job twice is harmless: a retry after a failure simply runs it again.

A job that fails is retried with exponential back-off; after ``max_attempts`` it is marked
failed and waits for an operator (`personalization erasure retry`). A finished job keeps only
a keyed hash of the customer id (`subject`) and counts; the consent audit gets an `erase`
entry with the same counts. The conversations are swept again a little later (Rasa saves the
tracker and streams its events after the erasing reply), then their ids are cleared too.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg2
import redis
from psycopg2.extras import Json

from personalization.privacy import (
    ConversationStore,
    ErasureReport,
    audit,
    delete_events,
    erase_records,
    forget_elsewhere,
)
from personalization.pseudonym import pseudonym_key_from_env, pseudonymous_id
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import ModelRegistry
from personalization.settings import ConfigurationError, ErasureSettings, IdentitySettings
from personalization.store import Database, StoreUnavailable

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
QUEUED = "queued"  # recorded in Redis while PostgreSQL was down; not in the table yet
NOTIFY_CHANNEL = "erasure_jobs"
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_reference() -> str:
    """A public reference the customer can quote, e.g. ``ER-7KQ2-XM9D``; random, not derived."""
    chars = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"ER-{chars[:4]}-{chars[4:]}"


@dataclass(frozen=True)
class ErasureRequest:
    """What the chat or an operator asked for, before it is a row."""

    reference: str
    customer_id: str
    conversation_ids: tuple[str, ...]
    source: str
    requested_at: datetime

    @classmethod
    def new(cls, customer_id: str, conversation_ids: set[str], source: str) -> ErasureRequest:
        return cls(
            new_reference(),
            customer_id,
            tuple(sorted(conversation_ids)),
            source,
            datetime.now(timezone.utc),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "reference": self.reference,
                "customer_id": self.customer_id,
                "conversation_ids": list(self.conversation_ids),
                "source": self.source,
                "requested_at": self.requested_at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> ErasureRequest:
        """Raises ValueError for anything but a request this module wrote."""
        try:
            data = json.loads(raw)
            request = cls(
                str(data["reference"]),
                str(data["customer_id"]),
                tuple(str(c) for c in data["conversation_ids"]),
                str(data["source"]),
                datetime.fromisoformat(data["requested_at"]),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError("not an erasure request") from exc
        if not request.reference.startswith("ER-") or not request.customer_id:
            raise ValueError("not an erasure request")
        return request


@dataclass(frozen=True)
class ErasureServices:
    """The stores outside PostgreSQL a job reaches, and the keys it needs."""

    conversations: ConversationStore | None
    recommendations: RecommendationCache | None
    registry: ModelRegistry | None
    sign_in_key: bytes | None
    pseudonym_key: bytes | None  # without it, a finished job keeps no trace of whom it erased

    @classmethod
    def from_env(cls) -> ErasureServices:
        try:
            sign_in_key: bytes | None = IdentitySettings.from_env().binding_key
        except ConfigurationError:
            sign_in_key = None
        try:
            pseudonym_key: bytes | None = pseudonym_key_from_env()
        except ConfigurationError:
            pseudonym_key = None
        return cls(
            ConversationStore.from_env(),
            RecommendationCache.from_env(),
            ModelRegistry.from_env(),
            sign_in_key,
            pseudonym_key,
        )


@dataclass(frozen=True)
class JobView:
    """A job as an operator or the chat may see it: no customer id, no conversation id."""

    reference: str
    status: str
    attempts: int
    requested_at: datetime | None
    completed_at: datetime | None
    result: dict[str, Any]
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "status": self.status,
            "attempts": self.attempts,
            "requested_at": self.requested_at.isoformat() if self.requested_at else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "result": self.result,
            "last_error": self.last_error,
        }


def subject_of(key: bytes, customer_id: str) -> str:
    """The keyed hash a finished job keeps: who was erased, for whoever holds the key."""
    return pseudonymous_id(key, "erasure", customer_id)


def _counts(report: ErasureReport) -> dict[str, Any]:
    counts: dict[str, Any] = {
        "rows_deleted": dict(report.rows_deleted),
        "conversations": report.conversations,
        "event_rows_deleted": report.event_rows_deleted,
    }
    for name in (
        "redis_keys_deleted",
        "cached_recommendations_deleted",
        "recommender_versions_pruned",
    ):
        value = getattr(report, name)
        if value is not None:
            counts[name] = value
    return counts


def merge_counts(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Counts of two attempts together: sums, but the conversations known is the larger."""
    merged = dict(earlier)
    for name, value in later.items():
        before = merged.get(name)
        if isinstance(value, dict):
            merged[name] = merge_counts(before if isinstance(before, dict) else {}, value)
        elif name == "conversations":
            merged[name] = max(int(before or 0), int(value))
        elif isinstance(value, int) and isinstance(before, int):
            merged[name] = before + value
        else:
            merged[name] = value
    return merged


class ErasureInbox:
    """Requests made while PostgreSQL was down: a Redis list the worker empties into the table.

    An entry leaves the list only after its row committed, and recording is idempotent by
    reference, so a crash between the two repeats nothing but a no-op insert.
    """

    def __init__(self, settings: ErasureSettings) -> None:
        self._settings = settings

    def _client(self) -> redis.Redis:
        if not self._settings.redis_url:
            raise ConfigurationError("REDIS_URL is not set: no place to keep the request")
        timeout = self._settings.redis_timeout_s
        return redis.Redis.from_url(
            self._settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def push(self, request: ErasureRequest) -> None:
        client = self._client()
        try:
            client.rpush(self._settings.queue_key, request.to_json())
        finally:
            client.close()

    def size(self) -> int:
        client = self._client()
        try:
            return int(client.llen(self._settings.queue_key))
        finally:
            client.close()

    def drain(self, jobs: ErasureJobs, limit: int = 100) -> int:
        """Move up to ``limit`` requests into the table; returns how many were moved."""
        if not self._settings.redis_url:
            return 0
        key = self._settings.queue_key
        client = self._client()
        moved = 0
        try:
            for raw in client.lrange(key, 0, limit - 1):
                try:
                    request = ErasureRequest.from_json(raw)
                except ValueError:
                    # Never dropped: an operator can read it, but it blocks nothing else.
                    client.rpush(f"{key}:unreadable", raw)
                    client.lrem(key, 1, raw)
                    log.error("an unreadable erasure request was set aside in %s:unreadable", key)
                    continue
                jobs.record(request, merge=False)
                client.lrem(key, 1, raw)
                moved += 1
        finally:
            client.close()
        if moved:
            log.info("moved %d erasure request(s) from Redis into PostgreSQL", moved)
        return moved


_CLAIM = """
UPDATE erasure_jobs SET status = 'running', attempts = attempts + 1,
       lease_until = now() + make_interval(secs => %(lease)s)
WHERE id = (
    SELECT id FROM erasure_jobs
    WHERE ((status = 'pending' AND (next_attempt_at <= now() OR %(now)s))
           OR (status = 'running' AND lease_until < now()))
      AND (%(reference)s::text IS NULL OR reference = %(reference)s)
      AND NOT id = ANY(%(seen)s::bigint[])
    ORDER BY next_attempt_at
    FOR UPDATE SKIP LOCKED
    LIMIT 1)
RETURNING id, reference, customer_id, conversation_ids, source, attempts, result
"""


class ErasureJobs:
    """Record, run, sweep and report erasure jobs. Running needs ``services``."""

    def __init__(
        self,
        db: Database,
        settings: ErasureSettings | None = None,
        services: ErasureServices | None = None,
    ) -> None:
        self._db = db
        self._settings = settings or ErasureSettings.from_env()
        self._services = services

    # --- requests and status -----------------------------------------------------------

    def request(self, customer_id: str, conversation_ids: set[str], source: str) -> str:
        return self.record(ErasureRequest.new(customer_id, conversation_ids, source))

    def record(self, request: ErasureRequest, merge: bool = True) -> str:
        """Store the request and wake the worker; returns the reference to tell the customer.

        With ``merge``, a request for a customer who already has a job waiting joins it (its
        conversations are added), so asking twice is one job and one reference.
        """
        with self._db.cursor() as cur:
            if merge:
                cur.execute(
                    """UPDATE erasure_jobs
                       SET conversation_ids = ARRAY(
                           SELECT DISTINCT unnest(conversation_ids || %s::text[]) ORDER BY 1)
                       WHERE id = (SELECT id FROM erasure_jobs
                                   WHERE customer_id = %s AND status = 'pending'
                                   ORDER BY id LIMIT 1 FOR UPDATE)
                       RETURNING reference""",
                    (list(request.conversation_ids), request.customer_id),
                )
                row = cur.fetchone()
                if row is not None:
                    return str(row["reference"])
            cur.execute(
                """INSERT INTO erasure_jobs
                       (reference, customer_id, conversation_ids, source, requested_at)
                   VALUES (%s, %s, %s, %s, %s) ON CONFLICT (reference) DO NOTHING""",
                (
                    request.reference,
                    request.customer_id,
                    list(request.conversation_ids),
                    request.source,
                    request.requested_at,
                ),
            )
            cur.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        return request.reference

    def view(self, reference: str) -> JobView | None:
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT reference, status, attempts, requested_at, completed_at, result,
                          last_error
                   FROM erasure_jobs WHERE reference = %s""",
                (reference,),
            )
            row = cur.fetchone()
        return JobView(**row) if row is not None else None

    def status(self, reference: str) -> str | None:
        with self._db.cursor() as cur:
            cur.execute("SELECT status FROM erasure_jobs WHERE reference = %s", (reference,))
            row = cur.fetchone()
        return str(row["status"]) if row is not None else None

    def wait_for(self, reference: str, timeout_s: float, interval_s: float = 0.1) -> str | None:
        """The job's status once done or failed, or when ``timeout_s`` has passed."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            status = self.status(reference)
            remaining = deadline - time.monotonic()
            if status in (DONE, FAILED) or remaining <= 0:
                return status
            time.sleep(min(interval_s, remaining))

    def open_job_for(self, customer_id: str) -> str | None:
        """The reference of a job not yet done for this customer, if any."""
        with self._db.cursor() as cur:
            cur.execute(
                "SELECT reference FROM erasure_jobs WHERE customer_id = %s AND status <> 'done' "
                "ORDER BY id LIMIT 1",
                (customer_id,),
            )
            row = cur.fetchone()
        return str(row["reference"]) if row is not None else None

    def retry_failed(self, reference: str | None = None) -> list[str]:
        """Give failed jobs (or one) a fresh set of attempts, due now; returns their references."""
        with self._db.cursor() as cur:
            cur.execute(
                """UPDATE erasure_jobs SET status = 'pending', attempts = 0,
                          next_attempt_at = now(), last_error = NULL
                   WHERE status = 'failed' AND (%(r)s::text IS NULL OR reference = %(r)s)
                   RETURNING reference""",
                {"r": reference},
            )
            references = [str(row["reference"]) for row in cur.fetchall()]
            if references:
                cur.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        return references

    def counts_by_status(self) -> dict[str, int]:
        with self._db.cursor() as cur:
            cur.execute("SELECT status, count(*) AS n FROM erasure_jobs GROUP BY status")
            return {row["status"]: row["n"] for row in cur.fetchall()}

    # --- running -----------------------------------------------------------------------

    def run_due(self, limit: int = 100, stop: Callable[[], bool] | None = None) -> int:
        """Run due jobs one at a time, each at most once per call, until none is left,
        ``limit`` ran or ``stop()`` says so; returns how many ran."""
        seen: list[int] = []
        while len(seen) < limit and not (stop is not None and stop()):
            job = self._claim(None, now=False, seen=seen)
            if job is None:
                break
            seen.append(job["id"])
            self._run(job)
        return len(seen)

    def run_now(self, reference: str) -> bool:
        """Run this job now, even if it waits for a retry; False if another worker holds it
        (see `wait_for`), or it is done or failed (see `retry_failed`)."""
        job = self._claim(reference, now=True)
        if job is None:
            return False
        self._run(job)
        return True

    def _claim(
        self, reference: str | None, now: bool, seen: list[int] | None = None
    ) -> dict[str, Any] | None:
        with self._db.cursor() as cur:
            cur.execute(
                _CLAIM,
                {
                    "lease": self._settings.lease_s,
                    "now": now,
                    "reference": reference,
                    "seen": seen or [],
                },
            )
            row = cur.fetchone()
        return dict(row) if row is not None else None

    def _run(self, job: dict[str, Any]) -> bool:
        """One attempt: done and audited, or recorded as failed with a retry time.

        A failure to record the outcome (PostgreSQL gone meanwhile) propagates: the lease
        runs out and the job is run again, which is harmless.
        """
        if job["attempts"] > self._settings.max_attempts:  # claimed again after leases ran out
            self._fail(job, "LeaseExpired")
            return False
        started = time.monotonic()
        try:
            counts = self._execute(job)
        except Exception as exc:  # any failure is a retry; its class name is the record
            self._fail(job, type(exc).__name__)
            return False
        self._finish(job, counts)
        log.info(
            "erasure job %s done in %.1fs (attempt %d, %d conversations)",
            job["reference"],
            time.monotonic() - started,
            job["attempts"],
            counts.get("conversations", 0),
        )
        return True

    def _execute(self, job: dict[str, Any]) -> dict[str, Any]:
        if self._services is None:
            raise ConfigurationError("erasure jobs are run by a worker with ErasureServices")
        services = self._services
        with self._db.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = %s", (self._settings.statement_timeout_ms,))
            report, conversation_ids = erase_records(
                cur, job["customer_id"], set(job["conversation_ids"]), services.sign_in_key
            )
            so_far = merge_counts(job["result"] or {}, _counts(report))
            cur.execute(
                """UPDATE erasure_jobs
                   SET conversation_ids = ARRAY(
                           SELECT DISTINCT unnest(conversation_ids || %s::text[]) ORDER BY 1),
                       result = %s
                   WHERE id = %s""",
                (sorted(conversation_ids), Json(so_far), job["id"]),
            )
        elsewhere = ErasureReport(job["customer_id"])
        forget_elsewhere(
            elsewhere,
            conversation_ids,
            services.conversations,
            services.recommendations,
            services.registry,
        )
        return merge_counts(so_far, _counts(elsewhere) | {"rows_deleted": {}})

    def _finish(self, job: dict[str, Any], counts: dict[str, Any]) -> None:
        assert self._services is not None
        delays = self._settings.sweep_delays_s
        first_sweep = delays[0] if delays else None
        with self._db.cursor() as cur:
            cur.execute(
                """UPDATE erasure_jobs
                   SET status = 'done', completed_at = now(), customer_id = NULL,
                       subject = %(subject)s, result = %(result)s, last_error = NULL,
                       lease_until = NULL,
                       sweep_after = now() + make_interval(secs => %(sweep)s::float8),
                       conversation_ids = CASE WHEN %(sweep)s::float8 IS NULL
                                               THEN '{}'::text[] ELSE conversation_ids END
                   WHERE id = %(id)s AND status = 'running' AND attempts = %(attempts)s
                   RETURNING source""",
                {
                    "subject": subject_of(self._services.pseudonym_key, job["customer_id"])
                    if self._services.pseudonym_key
                    else None,
                    "result": Json(counts),
                    "sweep": first_sweep,
                    "id": job["id"],
                    "attempts": job["attempts"],
                },
            )
            row = cur.fetchone()
            if row is not None:  # not if another worker took the job over meanwhile
                audit(
                    cur,
                    job["customer_id"],
                    "erase",
                    row["source"],
                    {"reference": job["reference"], **counts},
                )

    def _fail(self, job: dict[str, Any], error: str) -> None:
        attempts = int(job["attempts"])
        delay = min(
            self._settings.retry_max_s, self._settings.retry_base_s * 2 ** max(0, attempts - 1)
        )
        with self._db.cursor() as cur:
            cur.execute(
                """UPDATE erasure_jobs
                   SET status = CASE WHEN attempts >= %(max)s THEN 'failed' ELSE 'pending' END,
                       next_attempt_at = now() + make_interval(secs => %(delay)s),
                       last_error = %(error)s, lease_until = NULL
                   WHERE id = %(id)s AND status = 'running' AND attempts = %(attempts)s
                   RETURNING status""",
                {
                    "max": self._settings.max_attempts,
                    "delay": delay,
                    "error": error[:100],
                    "id": job["id"],
                    "attempts": attempts,
                },
            )
            row = cur.fetchone()
        if row is not None and row["status"] == FAILED:
            log.error(
                "erasure job %s failed after %d attempts (%s); retry with "
                "`personalization erasure retry %s`",
                job["reference"],
                attempts,
                error,
                job["reference"],
            )
        else:
            log.warning(
                "erasure job %s attempt %d failed (%s); next attempt in %.0fs",
                job["reference"],
                attempts,
                error,
                delay,
            )

    # --- the later sweeps of each erased conversation ---------------------------------

    def sweep_due(self, limit: int = 100) -> int:
        """Sweep finished jobs' conversations once more (what Rasa wrote after the reply).

        One job per transaction, its row locked meanwhile; a Redis failure rolls the sweep
        back and it is tried again on the next round.
        """
        swept = 0
        while swept < limit:
            with self._db.cursor() as cur:
                cur.execute(
                    """SELECT id, reference, conversation_ids, sweeps_done FROM erasure_jobs
                       WHERE sweep_after <= now() ORDER BY sweep_after
                       FOR UPDATE SKIP LOCKED LIMIT 1"""
                )
                job = cur.fetchone()
                if job is None:
                    break
                ids = set(job["conversation_ids"])
                events = delete_events(cur, ids)
                conversations = self._services.conversations if self._services else None
                keys = conversations.delete(ids) if conversations is not None else 0
                delays = self._settings.sweep_delays_s
                done = int(job["sweeps_done"])
                following = delays[done + 1] - delays[done] if done + 1 < len(delays) else None
                if following is None and conversations is not None:
                    conversations.rewrite_persistence()  # the last sweep: no copy on disk
                cur.execute(
                    """UPDATE erasure_jobs
                       SET sweeps_done = sweeps_done + 1,
                           sweep_after = now() + make_interval(secs => %(next)s::float8),
                           conversation_ids = CASE WHEN %(next)s::float8 IS NULL
                                                   THEN '{}'::text[] ELSE conversation_ids END,
                           result = jsonb_set(result, '{swept}', jsonb_build_object(
                               'event_rows_deleted',
                               coalesce((result #>> '{swept,event_rows_deleted}')::int, 0)
                                   + %(events)s,
                               'redis_keys_deleted',
                               coalesce((result #>> '{swept,redis_keys_deleted}')::int, 0)
                                   + %(keys)s))
                       WHERE id = %(id)s""",
                    {
                        "next": max(0.0, following) if following is not None else None,
                        "events": events,
                        "keys": keys,
                        "id": job["id"],
                    },
                )
            swept += 1
            log.info(
                "erasure job %s: conversations swept again (%d event rows, %d keys)",
                job["reference"],
                events,
                keys,
            )
        return swept


def is_outage(exc: BaseException) -> bool:
    """A store that did not answer, as opposed to a bug: worth a quiet retry."""
    return isinstance(exc, (StoreUnavailable, psycopg2.OperationalError, redis.RedisError))


__all__ = [
    "DONE",
    "FAILED",
    "PENDING",
    "QUEUED",
    "RUNNING",
    "ErasureInbox",
    "ErasureJobs",
    "ErasureRequest",
    "ErasureServices",
    "JobView",
    "merge_counts",
    "new_reference",
    "subject_of",
]
