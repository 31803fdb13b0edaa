"""The connection pool across a PostgreSQL restart, its timeouts, and cancel scopes."""

from __future__ import annotations

import contextvars
import threading
import time
import warnings
from pathlib import Path

import pytest

from personalization.settings import DatabaseSettings
from personalization.store import db as db_module
from personalization.store.db import Database, StoreUnavailable
from stack.services import EmbeddedPostgres


def test_pooled_connections_survive_a_restart_while_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "_PING_IF_IDLE_S", 0.0)
    server = EmbeddedPostgres(tmp_path / "pg", database="app")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        url = server.start()
        database = Database(DatabaseSettings(url=url))
        try:
            with database.cursor() as cur:
                cur.execute("SELECT 1 AS one")
                assert cur.fetchone()["one"] == 1
            server.stop()  # restarted while the pool is idle: its connection is now dead
            server.start()
            with database.cursor() as cur:
                cur.execute("SELECT 2 AS two")
                assert cur.fetchone()["two"] == 2
        finally:
            database.close()
            server.stop()


def test_an_unreachable_server_is_store_unavailable() -> None:
    database = Database(
        DatabaseSettings(url="postgresql://x@127.0.0.1:1/none", connect_timeout_s=2)
    )
    with pytest.raises(StoreUnavailable, match="cannot connect"), database.cursor() as cur:
        cur.execute("SELECT 1")


def test_a_cancelled_scope_rolls_back_instead_of_committing(db: Database) -> None:
    with db.cursor() as cur:
        cur.execute("CREATE TABLE notes (body text)")
    with db_module.cancel_scope() as scope:
        with pytest.raises(db_module.WorkCancelled), db.cursor() as cur:
            cur.execute("INSERT INTO notes VALUES ('late')")
            assert scope.cancel() is False  # nothing committed yet
        with pytest.raises(db_module.WorkCancelled), db.cursor() as cur:
            cur.execute("INSERT INTO notes VALUES ('later still')")
    with db.cursor() as cur:  # outside the scope, work commits as before
        cur.execute("SELECT count(*) AS n FROM notes")
        assert cur.fetchone()["n"] == 0


def test_interrupting_a_scope_stops_its_running_statement(db: Database) -> None:
    """The caller's thread interrupts the work's statement; the work's thread rolls back."""
    with db_module.cancel_scope() as scope:
        result: dict[str, object] = {}

        def stall() -> None:
            started = time.monotonic()
            try:
                with db.cursor() as cur:
                    cur.execute("CREATE TABLE stalled (body text)")
                    cur.execute("SELECT pg_sleep(10)")
            except StoreUnavailable as exc:
                result["error"] = exc
            result["seconds"] = time.monotonic() - started

        # The worker runs in a copy of this context, as `asyncio.to_thread` does.
        worker = threading.Thread(target=contextvars.copy_context().run, args=(stall,))
        worker.start()
        time.sleep(0.5)
        scope.cancel()
        scope.interrupt()
        worker.join(5)
    assert isinstance(result["error"], db_module.WorkCancelled)
    assert result["seconds"] < 5
    with db.cursor() as cur:
        cur.execute("SELECT to_regclass('stalled') AS t")
        assert cur.fetchone()["t"] is None


def test_a_commit_made_before_the_cancel_is_reported(db: Database) -> None:
    with db_module.cancel_scope() as scope:
        with db.cursor() as cur:
            cur.execute("SELECT 1")
        assert scope.cancel() is True  # the caller must not say it failed
