"""The event broker against a PostgreSQL server that goes away and comes back."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from brokers.sql import ResilientSQLEventBroker
from stack.services import EmbeddedPostgres


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A server of this test's own, since the test stops it."""
    server = EmbeddedPostgres(tmp_path / "pg", database="events")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server.start()
    yield server
    server.stop()


def start(server: EmbeddedPostgres) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return server.start()


def stored_events(url: str) -> list[dict]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT sender_id, data FROM events ORDER BY id")
            return [{"sender_id": s, **json.loads(d)} for s, d in cur.fetchall()]
    finally:
        conn.close()


def event(n: int, text: str = "hello") -> dict:
    return {"sender_id": "cust-0001", "event": "user", "text": f"{text} {n}", "timestamp": n}


def test_events_are_written_to_rasas_events_table(own_postgres: EmbeddedPostgres) -> None:
    url = start(own_postgres)
    broker = ResilientSQLEventBroker(host=url)
    broker.publish(event(1))
    broker.publish(event(2))
    assert [e["text"] for e in stored_events(url)] == ["hello 1", "hello 2"]
    assert broker.pending == 0


def test_an_outage_loses_nothing_and_logs_no_content(
    own_postgres: EmbeddedPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    url = start(own_postgres)
    broker = ResilientSQLEventBroker(host=url, retry_after_s=0)
    broker.publish(event(1))
    own_postgres.stop()
    with caplog.at_level(logging.WARNING, logger="brokers.sql"):
        for n in (2, 3, 4):
            broker.publish(event(n, text="my card was charged twice"))  # must not raise
        assert broker.pending == 3
        url = start(own_postgres)
        broker.publish(event(5))
    assert [e["text"].split()[-1] for e in stored_events(url)] == ["1", "2", "3", "4", "5"]
    assert broker.pending == 0
    assert "cannot reach the database" in caplog.text
    assert "reconnected" in caplog.text and "wrote 4 buffered events" in caplog.text
    assert "charged" not in caplog.text, "no conversation content in logs"


def test_the_broker_starts_while_the_database_is_down(own_postgres: EmbeddedPostgres) -> None:
    url = start(own_postgres)
    own_postgres.stop()
    broker = ResilientSQLEventBroker(host=url, retry_after_s=0)
    broker.publish(event(1))
    assert broker.pending == 1
    url = start(own_postgres)
    broker.publish(event(2))
    assert [e["text"] for e in stored_events(url)] == ["hello 1", "hello 2"]


def test_a_full_buffer_keeps_the_newest_events(own_postgres: EmbeddedPostgres) -> None:
    url = start(own_postgres)
    broker = ResilientSQLEventBroker(host=url, buffer_size=3, retry_after_s=0)
    own_postgres.stop()
    for n in range(1, 6):
        broker.publish(event(n))
    assert broker.pending == 3
    url = start(own_postgres)
    broker.publish(event(6))
    assert [e["text"] for e in stored_events(url)] == ["hello 4", "hello 5", "hello 6"]


def test_between_retries_events_wait_without_touching_the_database(
    own_postgres: EmbeddedPostgres,
) -> None:
    url = start(own_postgres)
    broker = ResilientSQLEventBroker(host=url, retry_after_s=3600)
    own_postgres.stop()
    broker.publish(event(1))  # fails and schedules the next attempt an hour away
    start(own_postgres)
    broker.publish(event(2))
    assert broker.pending == 2, "no reconnect attempt before the back-off has passed"
