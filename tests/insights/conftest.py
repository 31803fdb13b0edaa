"""A demo shop with simulated traffic and an import, and the insights server over it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.experiments.definition import load_file
from personalization.experiments.repository import ExperimentRepository
from personalization.segments import Segmenter
from personalization.settings import DatabaseSettings
from personalization.simulated_traffic import write_traffic
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from personalization.store.migrate import migrate
from stack.services import free_tcp_port
from tests.conftest import PROJECT_ROOT, Servers, create_database

TOKEN = "insights-operator-token-0123456789abcdef"
PSEUDONYM_KEY = b"insights-test-pseudonym-key-0123"
# Now, as the traffic sees it: every test reads the same 28 days.
NOW = datetime.now(timezone.utc)


def seed_shop(db: Database) -> None:
    load_demo_customers(CustomerRepository(db))
    load_demo_shop(db, demo_customers(), key=PSEUDONYM_KEY)
    Segmenter(db).run()
    ExperimentRepository(db).sync(load_file(PROJECT_ROOT / "experiments.yml"))
    write_traffic(db, 400, 28, seed=7, now=NOW)
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO import_runs (source, rows_read, rows_imported, rejected, "
            "missing_fields) VALUES ('orders.csv.gz', 1000, 880, "
            """'{"missing customer id": 100, "exact duplicate of an earlier row": 20}', """
            """'{"CustomerID": 100, "Description": 3}')"""
        )


@dataclass(frozen=True)
class InsightsServer:
    url: str
    token: str
    log: Path


@contextmanager
def running_server(database_url: str, log: Path, token: str = TOKEN) -> Iterator[InsightsServer]:
    port = free_tcp_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "OPERATOR_TOKEN": token,
        "INSIGHTS_PORT": str(port),
        "INSIGHTS_HOST": "127.0.0.1",
        "DB_CONNECT_TIMEOUT_S": "2",
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "insights.server"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/insights/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"insights did not start:\n{log.read_text()}") from None
                time.sleep(0.3)
        yield InsightsServer(base, token, log)
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def insights(
    tmp_path_factory: pytest.TempPathFactory, servers: Servers
) -> Iterator[InsightsServer]:
    url = create_database(servers, "insights")
    db = Database(DatabaseSettings(url=url))
    migrate(db)
    seed_shop(db)
    db.close()
    log = tmp_path_factory.mktemp("insights") / "insights.log"
    with running_server(url, log) as server:
        yield server
