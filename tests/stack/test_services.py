"""The embedded servers that the default stack starts when no URL is configured."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import psycopg2
import pytest
import redis

from stack.services import EmbeddedPostgres, EmbeddedRedis


def test_embedded_postgres_starts_once_serves_and_stops(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", database="shop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        url = server.start()
        assert server.is_running()
        pid = server._postmaster().pid
        assert server.start() == url, "a second start reuses the running server"
        assert server._postmaster().pid == pid
    try:
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert cur.fetchone()[0] == "shop"
        conn.close()
    finally:
        assert server.stop() is True
    assert not server.is_running()
    assert server.stop() is False, "stopping a stopped server is a no-op"


def test_embedded_postgres_keeps_data_across_restarts(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        url = server.start()
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
        conn.close()
        server.stop()
        url = server.start()
    try:
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT v FROM kept")
            assert cur.fetchone()[0] == 42
        conn.close()
    finally:
        server.stop()


def test_embedded_redis_listens_on_loopback_tcp_and_stops(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    try:
        assert url.startswith("redis://:") and "@127.0.0.1:" in url
        assert server.start() == url, "a second start reuses the running server"
        client = redis.Redis.from_url(url)
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        client.close()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        stranger = redis.Redis(host="127.0.0.1", port=port)
        with pytest.raises(redis.AuthenticationError):
            stranger.get("greeting")  # a local user without the password reads nothing
        stranger.close()
        password = url.split("@")[0].rsplit(":", 1)[1]
        for name in ("redis.password", "redis.conf"):
            assert (tmp_path / "redis" / name).stat().st_mode & 0o077 == 0
        command_lines = " ".join(
            Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            for pid in os.listdir("/proc")
            if pid.isdigit() and Path(f"/proc/{pid}/cmdline").exists()
        )
        assert password not in command_lines, "the password is on no command line"
    finally:
        assert server.stop() is True
    assert not server.is_running()
    assert server.stop() is False
