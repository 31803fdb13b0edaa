"""Rasa's SQL event broker, made safe for a database that may be down.

Rasa publishes events inside the tracker-store save. With the stock SQL broker, one failed
INSERT makes Rasa's fail-safe tracker store switch to an in-memory store for the rest of the
process, so conversations silently stop reaching Redis. The stock broker also logs the event,
with the customer's words, in the traceback, and Rasa refuses to start while the database is
down. This broker never raises. It keeps events in a bounded in-memory queue while
PostgreSQL is away, writes them in order once it is back, retries at most every few seconds,
and logs the outage without any event content. It writes to Rasa's own `events` table.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
from typing import Any

import sqlalchemy
import sqlalchemy.exc
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore

log = logging.getLogger(__name__)


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class ResilientSQLEventBroker(SQLEventBroker):
    def __init__(
        self,
        dialect: str = "postgresql",
        host: str | None = None,
        port: int | None = None,
        db: str = "events.db",
        username: str | None = None,
        password: str | None = None,
        buffer_size: int | None = None,
        retry_after_s: float | None = None,
        connect_timeout_s: int | None = None,
        **_: Any,
    ) -> None:
        url = SQLTrackerStore.get_db_url(dialect, host, port, db, username, password)
        timeout = int(connect_timeout_s or _env_number("DB_CONNECT_TIMEOUT_S", 3))
        connect_args = {"connect_timeout": timeout} if str(url).startswith("postgresql") else {}
        self.engine = sqlalchemy.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        self.sessionmaker = sqlalchemy.orm.sessionmaker(bind=self.engine)
        self._pending: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=int(buffer_size or _env_number("EVENT_BUFFER_SIZE", 10_000))
        )
        self._retry_after_s = retry_after_s if retry_after_s is not None else 5.0
        self._next_attempt = 0.0
        self._table_ready = False
        self._outage_since: float | None = None
        self._dropped = 0
        self._lock = threading.Lock()
        self._ensure_table()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _ensure_table(self) -> bool:
        if self._table_ready:
            return True
        try:
            self.Base.metadata.create_all(self.engine)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            self._note_failure(exc)
            return False
        self._table_ready = True
        return True

    def _note_failure(self, exc: Exception) -> None:
        self._next_attempt = time.monotonic() + self._retry_after_s
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(
                "event broker cannot reach the database (%s); keeping events in memory "
                "(up to %d) until it is back",
                type(getattr(exc, "orig", None) or exc).__name__,
                self._pending.maxlen,
            )

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            if len(self._pending) == self._pending.maxlen:
                self._dropped += 1
            self._pending.append(event)
            if time.monotonic() < self._next_attempt:
                return
            self._flush()

    def _flush(self) -> None:
        if not self._ensure_table():
            return
        batch = list(self._pending)
        try:
            with self.session_scope() as session:
                session.add_all(
                    self.SQLBrokerEvent(sender_id=e.get("sender_id"), data=json.dumps(e))
                    for e in batch
                )
                session.commit()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            self._note_failure(exc)
            return
        for _ in batch:
            self._pending.popleft()
        if self._outage_since is not None:
            log.warning(
                "event broker reconnected after %.0fs; wrote %d buffered events%s",
                time.monotonic() - self._outage_since,
                len(batch),
                f", {self._dropped} were dropped (buffer full)" if self._dropped else "",
            )
            self._outage_since, self._dropped = None, 0
