"""A small wrapper over a psycopg2 connection pool.

Every caller borrows its own connection for one unit of work and gives it back, so no
session is ever shared across requests. Timeouts are set on connect and per statement so a
slow or dead database surfaces as `StoreUnavailable` instead of a hung conversation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool

from personalization.settings import DatabaseSettings

log = logging.getLogger(__name__)

# A pooled connection idle for longer than this is checked before use.
_PING_IF_IDLE_S = 5.0


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or did not answer in time."""


class Database:
    def __init__(self, settings: DatabaseSettings) -> None:
        self._settings = settings
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()
        self._last_used: dict[int, float] = {}

    @classmethod
    def from_env(cls) -> Database:
        return cls(DatabaseSettings.from_env())

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._lock:
            if self._pool is None:
                try:
                    # psycopg2 keeps at most `minconn` idle connections and closes the rest.
                    self._pool = psycopg2.pool.ThreadedConnectionPool(
                        min(self._settings.pool_min, self._settings.pool_max),
                        self._settings.pool_max,
                        self._settings.url,
                        connect_timeout=self._settings.connect_timeout_s,
                        options=f"-c statement_timeout={self._settings.statement_timeout_ms}",
                        application_name="personalization",
                    )
                except psycopg2.Error as exc:
                    raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}".strip()) from exc
            return self._pool

    def _borrow(self, pool: psycopg2.pool.ThreadedConnectionPool) -> psycopg2.extensions.connection:
        """A live connection; one idle for a while is pinged, as the server may have restarted."""
        try:
            # Every idle connection may be dead after a restart, including those the pool
            # opened up front; only one used a moment ago is trusted without a ping.
            for _ in range(self._settings.pool_max + 1):
                conn = pool.getconn()
                used_at = self._last_used.pop(id(conn), None)
                if used_at is not None and time.monotonic() - used_at <= _PING_IF_IDLE_S:
                    return conn
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1")
                    conn.rollback()
                    return conn
                except psycopg2.Error:
                    log.info("dropping a pooled connection that died while idle")
                    pool.putconn(conn, close=True)
            return pool.getconn()
        except psycopg2.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}".strip()) from exc

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a connection for one transaction: commit on success, roll back on error."""
        pool = self._get_pool()
        conn = self._borrow(pool)
        broken = False
        try:
            with conn:
                yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            broken = True
            raise StoreUnavailable(f"PostgreSQL failed: {exc}".strip()) from exc
        finally:
            self._last_used[id(conn)] = time.monotonic()
            pool.putconn(conn, close=broken or conn.closed != 0)

    @contextmanager
    def cursor(self) -> Iterator[psycopg2.extras.RealDictCursor]:
        with (
            self.connection() as conn,
            conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur,
        ):
            yield cur

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None
