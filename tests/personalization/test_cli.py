from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def run_cli(*args: str, database_url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env["DB_CONNECT_TIMEOUT_S"] = "2"
    return subprocess.run(
        [sys.executable, "-m", "personalization", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_then_demo_data_with_json_output(empty_database_url: str) -> None:
    migrated = run_cli("--json", "migrate", database_url=empty_database_url)
    assert migrated.returncode == 0, migrated.stderr
    assert json.loads(migrated.stdout)["applied"][0] == "0001_customers"

    loaded = run_cli("--json", "demo-data", "--customers", "12", database_url=empty_database_url)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {"customers_loaded": 12, "customers_total": 12}


def test_missing_database_url_is_a_usage_error() -> None:
    result = run_cli("migrate", database_url=None)
    assert result.returncode == 2
    assert "DATABASE_URL is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_exits_3_without_a_traceback() -> None:
    result = run_cli("migrate", database_url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 3
    assert "cannot connect to PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands() -> None:
    result = run_cli("--help", database_url=None)
    assert result.returncode == 0
    assert "migrate" in result.stdout and "demo-data" in result.stdout
