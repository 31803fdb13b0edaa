"""A durable, bounded first-in-first-out queue of events in a local SQLite file.

The broker appends here on Rasa's event loop, which costs one small local transaction, and a
writer thread drains the file into PostgreSQL. Events therefore survive a database outage and
a restart of the process. SQLite runs in WAL mode with ``synchronous=NORMAL``: an event
appended before the process crashes or is killed is kept; a power cut of the host may lose
the last moments. The spool is bounded: a full spool refuses the append, and the caller
counts it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# At most this often, a drained spool's write-ahead log (old copies of delivered events) is
# emptied.
_CHECKPOINT_EVERY_S = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_id  TEXT,
    data       TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class SpooledEvent:
    id: int
    sender_id: str | None
    data: str  # the event as JSON, as published; the writer masks it before storing it


class EventSpool:
    """Events waiting to be written, oldest first; safe to share between threads."""

    def __init__(self, path: Path, max_events: int) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self._lock = threading.Lock()
        self._conn = self._open()
        self._count = self._count_rows()
        self._last_checkpoint = 0.0

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Created private: until written, events may hold customers' words.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            return self._connect()
        except sqlite3.DatabaseError:
            # An unreadable file must not stop the bot: keep it aside for inspection.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.path.rename(aside)
            log.error("event spool %s was unreadable; moved it to %s", self.path, aside.name)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=5.0, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # A delivered event leaves no bytes behind: deleted rows are zeroed, and the
            # write-ahead log is emptied whenever the spool drains (see `remove`).
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute(_SCHEMA)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _count_rows(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM spool").fetchone()[0])

    def __len__(self) -> int:
        return self._count

    def append(self, sender_id: str | None, data: str) -> bool:
        """Keep one event; False if the spool is full (nothing was kept)."""
        return self.append_many([(sender_id, data)]) == 1

    def append_many(self, events: list[tuple[str | None, str]]) -> int:
        """Keep a turn's events in one transaction (one write of the log, not one per
        event), as many as there is room for, in order; returns how many were kept."""
        with self._lock:
            room = max(0, self.max_events - self._count)
            kept = events[:room]
            if not kept:
                return 0
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT INTO spool (sender_id, data) VALUES (?, ?)", kept)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._count += len(kept)
            return len(kept)

    def peek(self, limit: int) -> list[SpooledEvent]:
        """The oldest ``limit`` events, left in the spool until :meth:`remove`."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, sender_id, data FROM spool ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
            if len(rows) < limit:
                # The whole spool is in hand: an exact count, whatever other processes did.
                self._count = len(rows)
        return [SpooledEvent(*row) for row in rows]

    def remove(self, ids: list[int]) -> None:
        """Forget events once they are safely stored elsewhere."""
        if not ids:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                deleted = self._conn.executemany(
                    "DELETE FROM spool WHERE id = ?", [(i,) for i in ids]
                ).rowcount
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._count = max(0, self._count - max(deleted, 0))
            now = time.monotonic()
            if self._count == 0 and now - self._last_checkpoint >= _CHECKPOINT_EVERY_S:
                self._last_checkpoint = now
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def refresh(self) -> int:
        """Recount the events held, including any another process appended."""
        with self._lock:
            self._count = self._count_rows()
            return self._count

    def close(self) -> None:
        with self._lock:
            self._conn.close()
