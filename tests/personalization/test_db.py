"""The connection pool across a PostgreSQL restart."""

from __future__ import annotations

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
