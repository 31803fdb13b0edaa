"""A small wrapper over a psycopg2 connection pool.

Every caller borrows its own connection for one unit of work and gives it back, so no
session is ever shared across requests. Timeouts are set on connect and per statement so a
slow or dead database surfaces as `StoreUnavailable` instead of a hung conversation.

A caller with a deadline runs its work inside a `CancelScope`: when the deadline passes it
cancels the scope, which interrupts the scope's running statements and makes every unit of
work in it roll back instead of committing. So work the caller gave up on never lands later.
"""

from __future__ import annotations

import contextvars
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


class WorkCancelled(StoreUnavailable):
    """The caller's deadline passed: the unit of work was rolled back, nothing was committed."""


class CancelScope:
    """Units of work started for one caller with a deadline (see `cancel_scope`).

    Thread-safe: the caller cancels from its own thread while the work runs in another.
    A commit that already began when the scope is cancelled is let finish (interrupting a
    COMMIT would leave its result unknown); `cancel` says so, and the caller then waits for
    the work's real result instead of reporting a failure that did not happen.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._running: set[psycopg2.extensions.connection] = set()
        self._committing: set[psycopg2.extensions.connection] = set()
        self.committed = 0

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def enter(self, conn: psycopg2.extensions.connection) -> None:
        with self._lock:
            if self._cancelled:
                raise WorkCancelled("the deadline passed before the work began")
            self._running.add(conn)

    def leave(self, conn: psycopg2.extensions.connection) -> None:
        with self._lock:
            self._running.discard(conn)
            self._committing.discard(conn)

    def begin_commit(self, conn: psycopg2.extensions.connection) -> None:
        """Claim the right to commit; refused once the scope is cancelled."""
        with self._lock:
            if self._cancelled:
                raise WorkCancelled("the deadline passed; rolled back instead of committing")
            self._committing.add(conn)

    def end_commit(self, conn: psycopg2.extensions.connection) -> None:
        with self._lock:
            self._committing.discard(conn)
            self.committed += 1

    def cancel(self) -> bool:
        """Let nothing in this scope commit from now on; quick, safe on an event loop.

        Returns True if a commit was in flight or had already happened, i.e. the work may
        have changed the store and the caller should wait for its result. Follow with
        `interrupt` (in a thread: it talks to the server) to stop running statements.
        """
        with self._lock:
            self._cancelled = True
            return bool(self._committing) or self.committed > 0

    def interrupt(self) -> None:
        """Ask the server to cancel the scope's running statements (not a commit in flight).

        Done under the lock, so a connection is never interrupted after it went back to the
        pool and into someone else's work: `leave` waits for it.
        """
        with self._lock:
            for conn in self._running - self._committing:
                try:
                    conn.cancel()
                except psycopg2.Error as exc:
                    log.info("could not interrupt a statement (%s)", type(exc).__name__)


_scope: contextvars.ContextVar[CancelScope | None] = contextvars.ContextVar(
    "store_cancel_scope", default=None
)


@contextmanager
def cancel_scope() -> Iterator[CancelScope]:
    """Make a new scope current for this context; threads started from it with a copy of the
    context (`asyncio.to_thread` does) share it."""
    scope = CancelScope()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def current_scope() -> CancelScope | None:
    return _scope.get()


class Database:
    def __init__(self, settings: DatabaseSettings) -> None:
        self._settings = settings
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()
        self._last_used: dict[int, float] = {}

    @classmethod
    def from_env(cls) -> Database:
        return cls(DatabaseSettings.from_env())

    @property
    def settings(self) -> DatabaseSettings:
        return self._settings

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
        """Borrow a connection for one transaction: commit on success, roll back on error.

        Inside a cancelled `CancelScope` it rolls back instead of committing, and raises
        `WorkCancelled`.
        """
        scope = current_scope()
        if scope is not None and scope.cancelled:
            raise WorkCancelled("the deadline passed before the work began")
        pool = self._get_pool()
        conn = self._borrow(pool)
        broken = False
        try:
            if scope is not None:
                scope.enter(conn)
            try:
                yield conn
                if scope is not None:
                    scope.begin_commit(conn)
                conn.commit()
                if scope is not None:
                    scope.end_commit(conn)
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                raise
        except WorkCancelled:
            raise
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            broken = True
            if scope is not None and scope.cancelled:
                raise WorkCancelled("the deadline passed; the statement was interrupted") from exc
            raise StoreUnavailable(f"PostgreSQL failed: {exc}".strip()) from exc
        finally:
            if scope is not None:
                scope.leave(conn)
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
