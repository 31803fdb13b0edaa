"""The event broker against real PostgreSQL servers that refuse events, go away and come back."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import statistics
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from brokers.spool import EventSpool
from brokers.sql import ResilientSQLEventBroker
from personalization import metrics
from personalization.redaction import WITHHELD
from personalization.settings import DatabaseSettings
from personalization.store import Database
from personalization.store.migrate import migrate
from stack.services import EmbeddedPostgres, free_tcp_port
from tests.conftest import Servers, create_database


@pytest.fixture
def url(servers: Servers) -> str:
    return create_database(servers, "broker")


@pytest.fixture
def unreachable_url() -> str:
    """A PostgreSQL URL at a port nothing listens on."""
    return f"postgresql://nobody@127.0.0.1:{free_tcp_port()}/events"


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool" / "event-spool.sqlite3"


@pytest.fixture
def brokers() -> Iterator[list[ResilientSQLEventBroker]]:
    """Every broker a test starts is closed at its end."""
    started: list[ResilientSQLEventBroker] = []
    yield started
    for broker in started:
        broker.close_now()


@pytest.fixture
def make_broker(brokers: list[ResilientSQLEventBroker], spool: Path):
    def make(url: str, **kwargs: object) -> ResilientSQLEventBroker:
        kwargs.setdefault("spool_path", spool)
        kwargs.setdefault("retry_after_s", 0.05)
        kwargs.setdefault("retry_max_s", 0.2)
        broker = ResilientSQLEventBroker(host=url, **kwargs)
        brokers.append(broker)
        return broker

    return make


def query(url: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def stored_events(url: str) -> list[dict]:
    rows = query(url, "SELECT sender_id, data FROM events ORDER BY id")
    return [{"sender_id": s, **json.loads(d)} for s, d in rows]


def spooled(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT sender_id, data FROM spool ORDER BY id").fetchall()
    finally:
        conn.close()


def event(n: int, text: str = "hello", sender: str = "cust-0001") -> dict:
    return {"sender_id": sender, "event": "user", "text": f"{text} {n}", "timestamp": n}


def counter(metric: object) -> float:
    return metric._value.get()  # type: ignore[attr-defined]


def test_events_are_written_in_order_to_rasas_events_table(make_broker, url: str) -> None:
    written = counter(metrics.EVENTS_WRITTEN)
    broker = make_broker(url)
    for n in range(1, 4):
        broker.publish(event(n))
    assert broker.flush(10)
    assert [e["text"] for e in stored_events(url)] == ["hello 1", "hello 2", "hello 3"]
    assert broker.pending == 0 and metrics.EVENT_SPOOL_EVENTS._value.get() == 0
    assert counter(metrics.EVENTS_WRITTEN) - written == 3


def test_poison_sender_ids_are_set_aside_and_never_hold_back_others(
    make_broker, brokers: list, url: str, unreachable_url: str, spool: Path
) -> None:
    # Spool everything first, so that the writer meets all of it in one batch.
    offline = make_broker(unreachable_url)
    long_id, nul_id = "x" * 5000, "evil\x00id"
    senders = ["alice", "alice", long_id, "bob", nul_id, "carol", "alice"]
    for n, sender in enumerate(senders):
        offline.publish(event(n, "my email is jane@example.com", sender))
    offline.close_now()
    assert len(spooled(spool)) == len(senders)

    dead_before = counter(metrics.EVENTS_DEAD_LETTERED)
    broker = make_broker(url, batch_size=100)
    assert broker.flush(20)
    assert [(e["sender_id"], e["timestamp"]) for e in stored_events(url)] == [
        ("alice", 0),
        ("alice", 1),
        ("bob", 3),
        ("carol", 5),
        ("alice", 6),
    ]
    dead = query(url, "SELECT sender_id, reason, data FROM event_dead_letters ORDER BY id")
    assert [json.loads(d)["timestamp"] for _, _, d in dead] == [2, 4]
    assert dead[0][0] == long_id[:1000] and "\x00" not in dead[1][0]
    assert dead[0][1].startswith("StringDataRightTruncation [22001]: value too long")
    assert dead[1][1].startswith("ValueError")
    assert all("example" not in reason and "evil" not in reason for _, reason, _ in dead)
    assert all("[email]" in d and "jane@" not in d for _, _, d in dead), "masked there too"
    assert counter(metrics.EVENTS_DEAD_LETTERED) - dead_before == 2
    assert spooled(spool) == []


def test_events_spooled_during_an_outage_are_written_after_a_restart(
    make_broker, url: str, unreachable_url: str, spool: Path
) -> None:
    first = make_broker(unreachable_url)
    for n in range(1, 6):
        first.publish(event(n))
    time.sleep(0.3)  # the writer tries, and fails, meanwhile
    assert first.pending == 5
    first.close_now()  # the process stops
    assert spool.stat().st_mode & 0o077 == 0, "the spool is private to its owner"
    assert [json.loads(d)["text"] for _, d in spooled(spool)] == [f"hello {n}" for n in range(1, 6)]

    restarted = make_broker(url)
    assert restarted.pending == 5
    restarted.publish(event(6))
    assert restarted.flush(10)
    assert [e["text"] for e in stored_events(url)] == [f"hello {n}" for n in range(1, 7)]
    assert spooled(spool) == []


def test_publish_returns_at_once_while_the_database_is_unreachable(
    make_broker, unreachable_url: str
) -> None:
    broker = make_broker(unreachable_url)
    durations = []
    for n in range(300):
        started = time.perf_counter()
        broker.publish(event(n, "where is my order? call me on 07911 123456"))
        durations.append(time.perf_counter() - started)
    assert statistics.median(durations) < 0.005
    assert broker.pending == 300


def test_a_full_spool_counts_what_it_refuses_and_logs_no_content(
    make_broker, url: str, unreachable_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    overflowed = counter(metrics.EVENTS_OVERFLOWED)
    broker = make_broker(unreachable_url, spool_max_events=3)
    with caplog.at_level(logging.ERROR, logger="brokers.sql"):
        for n in range(1, 6):
            broker.publish(event(n, "my card was charged twice"))
    assert broker.pending == 3 and broker.overflowed == 2
    assert counter(metrics.EVENTS_OVERFLOWED) - overflowed == 2
    assert "is full" in caplog.text and "charged" not in caplog.text
    broker.close_now()
    restarted = make_broker(url, spool_max_events=3)
    assert restarted.flush(10)
    assert [e["timestamp"] for e in stored_events(url)] == [1, 2, 3]


def test_a_turns_events_are_spooled_together_as_far_as_there_is_room(
    make_broker, url: str, unreachable_url: str
) -> None:
    broker = make_broker(unreachable_url, spool_max_events=4)
    broker.publish_many([event(n, f"turn one, event {n}") for n in (1, 2, 3)])
    broker.publish_many([event(n, f"turn two, event {n}") for n in (4, 5, 6)])
    assert broker.pending == 4 and broker.overflowed == 2
    broker.close_now()
    restarted = make_broker(url, spool_max_events=4)
    assert restarted.flush(10)
    assert [e["timestamp"] for e in stored_events(url)] == [1, 2, 3, 4]


def test_the_export_reply_is_withheld_and_words_are_masked(make_broker, url: str) -> None:
    broker = make_broker(url)
    broker.publish(event(1, "I'm jane@example.com, card 4111 1111 1111 1111"))
    broker.publish(
        {
            "sender_id": "cust-0001",
            "event": "bot",
            "timestamp": 2,
            "text": "Here's what we hold about you:\nName: Jane Doe, 12 High Street",
            "data": {"custom": {"summary": "Jane Doe"}},
            "metadata": {"utter_action": "utter_export", "summary": "Name: Jane Doe"},
        }
    )
    assert broker.flush(10)
    user, bot = stored_events(url)
    assert user["text"] == "I'm [email], card [card] 1"
    assert bot["text"] == WITHHELD
    assert "Jane" not in json.dumps(bot) and bot["metadata"] == {"utter_action": "utter_export"}


def test_a_proof_of_identity_records_the_conversation_against_the_customer(
    make_broker, url: str, unreachable_url: str
) -> None:
    def proof(sender: str, at: float) -> dict:
        value = {
            "customer_id": "cust-0042",
            "channel": "rest",
            "method": "token",
            "client": "f" * 32,
            "verified_at": at,
            "expires_at": at + 7200,
        }
        return {
            "sender_id": sender,
            "event": "slot",
            "timestamp": at,
            "name": "identity_proof",
            "value": value,
        }

    # Shown while PostgreSQL was down: recorded once it is back.
    offline = make_broker(unreachable_url)
    offline.publish(proof("conv-a", 1_700_000_000.0))
    offline.close_now()
    broker = make_broker(url)
    broker.publish(proof("conv-a", 1_700_000_600.0))
    broker.publish(proof("conv-b", 1_700_000_900.0))
    broker.publish(
        {"sender_id": "conv-c", "event": "slot", "name": "identity_proof", "value": None}
    )
    assert broker.flush(10)
    rows = query(
        url,
        """SELECT customer_id, conversation_id, extract(epoch FROM first_seen)::bigint,
                  extract(epoch FROM last_seen)::bigint
           FROM customer_conversations ORDER BY conversation_id""",
    )
    assert rows == [
        ("cust-0042", "conv-a", 1_700_000_000, 1_700_000_600),
        ("cust-0042", "conv-b", 1_700_000_900, 1_700_000_900),
    ]


def test_the_broker_and_the_migrations_agree_on_the_schema(make_broker, url: str) -> None:
    broker = make_broker(url)
    broker.publish(event(1))
    assert broker.flush(10)
    db = Database(DatabaseSettings(url=url))
    try:
        migrate(db)  # the broker created the tables first; the migration still applies
    finally:
        db.close()
    columns = query(
        url,
        """SELECT column_name, data_type, character_maximum_length FROM information_schema.columns
           WHERE table_name = 'events' ORDER BY ordinal_position""",
    )
    assert columns == [
        ("id", "integer", None),
        ("sender_id", "character varying", 255),
        ("data", "text", None),
    ]
    indexes = {name for (name,) in query(url, "SELECT indexname FROM pg_indexes")}
    assert {"events_sender_id_idx", "customer_conversations_conversation_idx"} <= indexes


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A server of this test's own, since the test stops it."""
    server = EmbeddedPostgres(tmp_path / "pg", database="events")
    start(server)
    yield server
    server.stop()


def start(server: EmbeddedPostgres) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return server.start()


def test_an_outage_loses_nothing_and_logs_no_content(
    make_broker, own_postgres: EmbeddedPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    url = start(own_postgres)
    broker = make_broker(url)
    broker.publish(event(1))
    assert broker.flush(10)
    own_postgres.stop()
    with caplog.at_level(logging.WARNING, logger="brokers.sql"):
        for n in (2, 3, 4):
            broker.publish(event(n, text="my card was charged twice"))  # must not raise
        time.sleep(0.5)
        assert broker.pending == 3
        url = start(own_postgres)
        broker.publish(event(5))
        assert broker.flush(15)
    assert [e["text"].split()[-1] for e in stored_events(url)] == ["1", "2", "3", "4", "5"]
    assert "cannot reach the database" in caplog.text
    assert re.search(r"reconnected after \d+s; wrote [34] spooled events", caplog.text)
    assert "charged" not in caplog.text, "no conversation content in logs"


def test_rasa_creates_and_closes_the_broker_from_its_endpoint_config(
    url: str, spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.core.brokers.broker import EventBroker
    from rasa.utils.endpoints import EndpointConfig

    monkeypatch.setenv("EVENT_SPOOL_PATH", str(spool))
    config = EndpointConfig(
        url=url, type="brokers.sql.ResilientSQLEventBroker", dialect="postgresql"
    )

    async def publish_and_close() -> None:
        broker = await EventBroker.create(config)
        assert isinstance(broker, ResilientSQLEventBroker)
        broker.publish(event(1))
        await broker.close()  # as Rasa does on shutdown: what the spool holds is written

    asyncio.run(publish_and_close())
    assert [e["text"] for e in stored_events(url)] == ["hello 1"]
    assert spooled(spool) == []


def test_a_delivered_event_leaves_no_copy_in_the_spool_files(tmp_path: Path) -> None:
    """Erasure must not find a customer's words in the broker's files once delivered."""
    spool = EventSpool(tmp_path / "spool.sqlite3", max_events=100)
    secret = "my-erasable-words-" + "x" * 40
    spool.append("rest:someone", json.dumps({"event": "user", "text": secret}))
    spool.remove([event.id for event in spool.peek(10)])
    spool.close()
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes(), file.name


def test_an_event_that_cannot_be_masked_is_stored_as_a_stub_never_in_clear() -> None:
    from brokers.spool import SpooledEvent
    from brokers.sql import _masked

    nested: object = "x"
    for _ in range(700):  # JSON can hold it; masking, two frames a level, cannot
        nested = [nested]
    event = {
        "event": "user",
        "timestamp": 1.0,
        "text": "my card 4111 1111 1111 1111, jane.doe@example.com",
        "metadata": {"x": nested},
    }
    stored = json.loads(_masked(SpooledEvent(1, "rest:a", json.dumps(event))).data)
    assert stored == {"event": "user", "timestamp": 1.0, "sender_id": None, "masking_failed": True}
