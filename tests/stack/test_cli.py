"""`python -m stack` reports failures in one line, never with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT, Servers


def run_stack(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unreachable_database_is_one_clear_error(tmp_path: Path, servers: Servers) -> None:
    result = run_stack(
        "up",
        DATABASE_URL="postgresql://shop@127.0.0.1:1/shop",
        REDIS_URL=servers.redis_url,
        STACK_DATA_DIR=str(tmp_path),
        DB_CONNECT_TIMEOUT_S="2",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot connect to PostgreSQL")
    assert "Traceback" not in result.stderr


def test_malformed_redis_url_is_one_clear_error(tmp_path: Path, servers: Servers) -> None:
    result = run_stack(
        "env",
        DATABASE_URL=servers.database_url("postgres"),
        REDIS_URL="localhost:6379",
        STACK_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 1
    assert "REDIS_URL must look like redis://" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_prints_exports_for_configured_servers(tmp_path: Path, servers: Servers) -> None:
    result = run_stack(
        "env",
        DATABASE_URL=servers.database_url("postgres"),
        REDIS_URL=servers.redis_url,
        STACK_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines()
    )
    assert exports["TRACKER_KEY_PREFIX"] == "shopbot"
    assert exports["REDIS_PORT"] == servers.redis_url.rsplit(":", 1)[1].split("/")[0]
    assert not (tmp_path / "postgres").exists(), "nothing embedded was started"
