"""Rasa's event broker into PostgreSQL, which never blocks the bot and never drops an event.

Rasa publishes events on its event loop, inside the tracker-store save. ``publish`` therefore
only appends the event to a durable, bounded local spool (brokers/spool.py, a 0600 file); a
writer thread masks personal data (personalization.redaction: up to 100 ms for a long message
full of digits, too slow for the event loop), moves the events into Rasa's ``events`` table in
order and in batches, and deletes them from the spool, which zeroes them, only after
PostgreSQL committed them.

- An outage keeps events in the spool; the writer retries with back-off and logs the outage
  once, without content. A restart resumes from the spool.
- An event PostgreSQL refuses (a 5,000-character or NUL-bearing sender id, ...) is set aside
  with its reason in ``event_dead_letters``, so it never holds back the events behind it.
- A full spool (``EVENT_SPOOL_MAX_EVENTS``) refuses new events: each one is counted
  (``shopbot_events_overflowed_total``) and logged as an error without content.
- Delivery is at least once: a crash between PostgreSQL's commit and the spool's delete
  writes that batch again on restart.

The writer also records, from the ``identity_proof`` slot, which customer proved their
identity in which conversation (``customer_conversations``), so erasure finds every
conversation even if PostgreSQL was down when the proof was shown.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import fcntl
import json
import logging
import re
import threading
import time
from asyncio import AbstractEventLoop
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from brokers.spool import EventSpool, SpooledEvent
from personalization import metrics
from personalization.redaction import redact_event
from personalization.settings import EventPipelineSettings

log = logging.getLogger(__name__)

_SCHEMA_FILE = "0007_event_pipeline.sql"
_ADVISORY_LOCK_KEY = 7_310_442_001  # the key migrate.py holds, so the two never race
_PROOF_SLOT = "identity_proof"
_OVERFLOW_LOG_EVERY_S = 60.0
_GATHER_S = 0.05  # how long the writer lets a partial batch fill up
# SQLSTATE classes of a problem with the server rather than with an event: connection (08),
# insufficient resources (53), operator intervention (57: shutdown, cancel), system (58),
# and transaction rollbacks such as deadlocks (40).
_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")


class _Unavailable(Exception):
    """PostgreSQL cannot take events now; keep them and retry later."""


def _database_url(
    dialect: str,
    host: str | None,
    port: int | None,
    db: str,
    username: str | None,
    password: str | None,
) -> str:
    """A libpq URL from Rasa's broker settings (a full URL in ``url``, or its parts)."""
    from rasa.core.tracker_store import SQLTrackerStore

    url = SQLTrackerStore.get_db_url(dialect, host, port, db, username, password)
    text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    return re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", text)


def _schema_sql() -> str:
    from importlib import resources

    return resources.files("personalization.store.migrations").joinpath(_SCHEMA_FILE).read_text()


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, psycopg2.InterfaceError):
        return True
    if isinstance(exc, psycopg2.Error):
        code = exc.pgcode
        if code is None:
            # No answer from the server at all: refused, reset, timed out.
            return isinstance(exc, psycopg2.OperationalError)
        return code[:2] in _TRANSIENT_CLASSES
    return False


def _reason(exc: BaseException) -> str:
    """Why an event was refused: the error's class and message, never its values."""
    message = ""
    if isinstance(exc, psycopg2.Error):
        message = (exc.diag.message_primary or "") if exc.pgcode else str(exc)
    elif isinstance(exc, (ValueError, TypeError)):
        message = str(exc)
    message = message.splitlines()[0] if message else ""
    # Values appear quoted or in parentheses after '='; drop them.
    message = re.sub(r'"[^"]*"|\'[^\']*\'|=\s*\([^)]*\)', "…", message)[:160]
    code = f" [{exc.pgcode}]" if isinstance(exc, psycopg2.Error) and exc.pgcode else ""
    return f"{type(exc).__name__}{code}: {message}" if message else type(exc).__name__ + code


def _masked(event: SpooledEvent) -> SpooledEvent:
    """The event as it may be stored: personal data masked. One that cannot be masked (too
    deeply nested, unreadable) is stored as a stub with its kind and time only, never as it
    came: its words may hold a card number."""
    try:
        masked = redact_event(json.loads(event.data))
        return dataclasses.replace(event, data=json.dumps(masked, default=str))
    except Exception as exc:  # any failure: the writer must go on, and store nothing in clear
        log.warning("event could not be masked (%s); storing a stub", type(exc).__name__)
        try:
            original = json.loads(event.data)
            stub = {k: original.get(k) for k in ("event", "timestamp", "sender_id")}
        except Exception:
            stub = {}
        stub["masking_failed"] = True
        return dataclasses.replace(event, data=json.dumps(stub, default=str))


def _clean_sender(sender_id: str | None) -> str | None:
    """A sender id fit for a text column: no NUL, bounded."""
    if sender_id is None:
        return None
    return str(sender_id).replace("\x00", "\\0")[:1000]


def _proof(event: SpooledEvent) -> tuple[str, str, float | None] | None:
    """(customer_id, conversation_id, when) if this event proves who the customer is."""
    if _PROOF_SLOT not in event.data or not isinstance(event.sender_id, str):
        return None
    try:
        data = json.loads(event.data)
    except ValueError:
        return None
    if data.get("event") != "slot" or data.get("name") != _PROOF_SLOT:
        return None
    value = data.get("value")
    customer_id = value.get("customer_id") if isinstance(value, dict) else None
    if not isinstance(customer_id, str) or not 0 < len(customer_id) <= 128:
        return None
    when = data.get("timestamp")
    return customer_id, event.sender_id, when if isinstance(when, (int, float)) else None


class ResilientSQLEventBroker(EventBroker):
    """Publishes Rasa events to PostgreSQL through a durable local spool."""

    def __init__(
        self,
        dialect: str = "postgresql",
        host: str | None = None,
        port: int | None = None,
        db: str = "events",
        username: str | None = None,
        password: str | None = None,
        spool_path: str | Path | None = None,
        spool_max_events: int | None = None,
        batch_size: int | None = None,
        retry_after_s: float | None = None,
        retry_max_s: float | None = None,
        **_: Any,
    ) -> None:
        settings = EventPipelineSettings.from_env()
        self._url = _database_url(dialect, host, port, db, username, password)
        self._settings = settings
        self._batch_size = int(batch_size or settings.batch_size)
        self._retry_min_s = max(
            0.05, settings.retry_min_s if retry_after_s is None else float(retry_after_s)
        )
        self._retry_max_s = max(
            self._retry_min_s, settings.retry_max_s if retry_max_s is None else float(retry_max_s)
        )
        self.spool = EventSpool(
            Path(spool_path or settings.spool_path),
            int(spool_max_events or settings.spool_max_events),
        )
        metrics.EVENT_SPOOL_EVENTS.set(len(self.spool))
        self.overflowed = 0
        self._last_overflow_log = 0.0
        self._conn: psycopg2.extensions.connection | None = None
        self._schema_ready = False
        self._outage_since: float | None = None
        self._written_since_outage = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._lock_file: Any = None
        self._writer = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self._writer.start()
        atexit.register(self.close_now)

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: AbstractEventLoop | None = None
    ) -> ResilientSQLEventBroker:
        return cls(host=broker_config.url, **broker_config.kwargs)

    # --- Rasa's side: the event loop -------------------------------------------------------

    @property
    def pending(self) -> int:
        """Events held in the spool, not yet in PostgreSQL."""
        return len(self.spool)

    def publish(self, event: dict[str, Any]) -> None:
        """Spool one event. Never raises, never waits for PostgreSQL."""
        self.publish_many([event])

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Spool a turn's events in one write. Never raises, never waits for PostgreSQL."""
        if not events:
            return
        try:
            rows = []
            for event in events:
                sender_id = event.get("sender_id")
                rows.append(
                    (
                        sender_id if isinstance(sender_id, str) else None,
                        json.dumps(event, default=str),
                    )
                )
            kept = self.spool.append_many(rows)
        except Exception as exc:  # a broker that raises would fail Rasa's tracker save
            log.error(
                "events could not be spooled (%s); they are counted as overflowed",
                type(exc).__name__,
            )
            kept = 0
        for _ in range(len(events) - kept):
            self._overflow()
        if not kept:
            return
        metrics.EVENT_SPOOL_EVENTS.set(len(self.spool))
        self._idle.clear()
        self._wake.set()

    def _overflow(self) -> None:
        self.overflowed += 1
        metrics.EVENTS_OVERFLOWED.inc()
        now = time.monotonic()
        if now - self._last_overflow_log >= _OVERFLOW_LOG_EVERY_S:
            self._last_overflow_log = now
            log.error(
                "event spool %s is full (%d events) or unwritable; %d events were not recorded "
                "by this process so far",
                self.spool.path,
                self.spool.max_events,
                self.overflowed,
            )

    def flush(self, timeout_s: float, give_up_on_outage: bool = False) -> bool:
        """Wait until the spool is empty (True) or ``timeout_s`` passed (False).

        With ``give_up_on_outage``, stop waiting as soon as the database is known to be away.
        """
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        while time.monotonic() < deadline:
            if len(self.spool) == 0 and self._idle.is_set():
                return True
            if give_up_on_outage and self._outage_since is not None:
                break
            time.sleep(0.01)
        return len(self.spool) == 0

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close_now)

    def close_now(self) -> None:
        """Try to write what the spool holds (bounded), then stop the writer."""
        if self._stop.is_set():
            return
        self.flush(self._settings.close_timeout_s, give_up_on_outage=True)
        self._stop.set()
        self._wake.set()
        self._writer.join(self._settings.close_timeout_s)
        atexit.unregister(self.close_now)
        if len(self.spool):
            log.warning(
                "event broker stopped with %d events in its spool %s; they are written on "
                "the next start",
                len(self.spool),
                self.spool.path,
            )

    # --- The writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        delay = self._retry_min_s
        while not self._stop.is_set():
            try:
                if not self._hold_spool_lock():
                    # Another process drains this spool: count what it left, so this one's
                    # idea of how full the spool is never drifts towards refusing events.
                    self.spool.refresh()
                    metrics.EVENT_SPOOL_EVENTS.set(len(self.spool))
                    self._stop.wait(1.0)
                    continue
                moved = self._drain_once()
            except _Unavailable as exc:
                self._note_outage(exc.__cause__ or exc)
                self._close_connection()
                self._stop.wait(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            except Exception as exc:  # the writer must outlive any surprise, or events pile up
                log.error("event writer failed unexpectedly (%s); retrying", type(exc).__name__)
                self._close_connection()
                self._stop.wait(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            delay = self._retry_min_s
            metrics.EVENT_SPOOL_EVENTS.set(len(self.spool))
            if 0 < moved < self._batch_size:
                # A busy server spools a turn's events every few milliseconds: a moment's
                # wait lets the next batch hold several turns, one commit for all of them.
                self._stop.wait(_GATHER_S)
            if moved == 0:
                self._note_recovered()
                self._idle.set()
                self._wake.wait(1.0)  # also picks up events other processes spooled
                self._wake.clear()
        self._close_connection()
        self._release_spool_lock()

    def _hold_spool_lock(self) -> bool:
        """One writer per spool file, even when several processes append to it."""
        if self._lock_file is not None:
            return True
        handle = open(f"{self.spool.path}.lock", "a")  # noqa: SIM115 - held for the lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def _release_spool_lock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _drain_once(self) -> int:
        """Write the oldest batch; returns how many events left the spool."""
        batch = [_masked(event) for event in self.spool.peek(self._batch_size)]
        if not batch:
            return 0
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                self._insert(cur, batch)
            conn.commit()
        except Exception as exc:
            self._rollback()
            if _is_transient(exc) or isinstance(exc, psycopg2.errors.UndefinedTable):
                self._schema_ready = not isinstance(exc, psycopg2.errors.UndefinedTable)
                raise _Unavailable() from exc
            return self._write_one_by_one(batch)
        self.spool.remove([e.id for e in batch])
        metrics.EVENTS_WRITTEN.inc(len(batch))
        self._written_since_outage += len(batch)
        return len(batch)

    def _write_one_by_one(self, batch: list[SpooledEvent]) -> int:
        """A batch PostgreSQL refused: find the poison events and set them aside."""
        conn = self._connection()
        for event in batch:
            try:
                with conn.cursor() as cur:
                    self._insert(cur, [event])
                conn.commit()
                metrics.EVENTS_WRITTEN.inc()
                self._written_since_outage += 1
            except Exception as exc:
                self._rollback()
                if _is_transient(exc) or isinstance(exc, psycopg2.errors.UndefinedTable):
                    self._schema_ready = not isinstance(exc, psycopg2.errors.UndefinedTable)
                    raise _Unavailable() from exc
                self._dead_letter(event, exc)
            self.spool.remove([event.id])
        return len(batch)

    def _dead_letter(self, event: SpooledEvent, exc: BaseException) -> None:
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO event_dead_letters (sender_id, reason, data) VALUES (%s, %s, %s)",
                    (_clean_sender(event.sender_id), _reason(exc), event.data.replace("\x00", "")),
                )
            conn.commit()
        except Exception as error:  # the event stays in the spool rather than being lost
            self._rollback()
            raise _Unavailable() from error
        metrics.EVENTS_DEAD_LETTERED.inc()
        log.error(
            "event set aside in event_dead_letters (%s); the events behind it go on",
            _reason(exc),
        )

    @staticmethod
    def _insert(cur: psycopg2.extensions.cursor, batch: list[SpooledEvent]) -> None:
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO events (sender_id, data) VALUES %s",
            [(e.sender_id, e.data) for e in batch],
            page_size=len(batch),
        )
        proofs = [p for p in map(_proof, batch) if p is not None]
        for customer_id, conversation_id, when in proofs:
            cur.execute(
                """INSERT INTO customer_conversations
                       (customer_id, conversation_id, first_seen, last_seen)
                   VALUES (%s, %s, COALESCE(to_timestamp(%s), now()),
                           COALESCE(to_timestamp(%s), now()))
                   ON CONFLICT (customer_id, conversation_id) DO UPDATE
                   SET first_seen = LEAST(customer_conversations.first_seen,
                                          EXCLUDED.first_seen),
                       last_seen = GREATEST(customer_conversations.last_seen,
                                            EXCLUDED.last_seen)""",
                (customer_id, conversation_id, when, when),
            )

    def _connection(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg2.connect(
                    self._url,
                    connect_timeout=self._settings.connect_timeout_s,
                    application_name="event-broker",
                    options=f"-c statement_timeout={self._settings.statement_timeout_ms}",
                )
            except Exception as exc:
                raise _Unavailable() from exc
        if not self._schema_ready:
            self._ensure_schema(self._conn)
        return self._conn

    def _ensure_schema(self, conn: psycopg2.extensions.connection) -> None:
        """Create the pipeline's tables if the migrations have not yet (idempotent)."""
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
                cur.execute(_schema_sql())
            conn.commit()
        except Exception as exc:
            self._rollback()
            raise _Unavailable() from exc
        self._schema_ready = True

    def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.rollback()
            except psycopg2.Error:
                self._close_connection()

    def _close_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self._conn.close()
            self._conn = None

    def _note_outage(self, exc: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self._written_since_outage = 0
            log.warning(
                "event broker cannot reach the database (%s); keeping events in the spool "
                "(%d held, up to %d) until it is back",
                type(exc).__name__,
                len(self.spool),
                self.spool.max_events,
            )

    def _note_recovered(self) -> None:
        if self._outage_since is not None:
            log.warning(
                "event broker reconnected after %.0fs; wrote %d spooled events",
                time.monotonic() - self._outage_since,
                self._written_since_outage,
            )
            self._outage_since = None
