"""The tracker store keeps the latest session's recent turns, and the state they stand on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import redis
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from brokers.sql import ResilientSQLEventBroker
from stores.redis import TimeoutRedisTrackerStore
from stores.tracker_window import windowed
from tests.conftest import Servers, create_database
from tests.stores.conftest import OwnRedis

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))


def session_start(at: float) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]


def turn(n: int, at: float) -> list[Event]:
    """One customer message and the bot's answer, with a slot the turn sets."""
    return [
        UserUttered(f"message {n}", {"name": "inform"}, timestamp=at),
        SlotSet("mood_messages", float(n), timestamp=at),
        BotUttered(f"answer {n}", timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]


def conversation(turns: int, start: float = 1000.0, form_at: int | None = None) -> list[Event]:
    events = [
        *session_start(start),
        SlotSet("customer_name", "Alice", timestamp=start),
        SlotSet("customer_known", True, timestamp=start),
    ]
    for n in range(1, turns + 1):
        events += turn(n, start + n)
        if n == form_at:  # a form starts and is still running at the end
            events += [
                ActionExecuted("return_form", timestamp=start + n),
                ActiveLoop("return_form", timestamp=start + n),
                SlotSet("requested_slot", "return_item", timestamp=start + n),
                ActionExecuted("action_listen", timestamp=start + n),
            ]
    return events


def texts(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, UserUttered)]


def same_as_rasa_reads_it(full: list[Event], kept: list[Event]) -> None:
    """The window leaves Rasa where the whole session does: slots, running loop, and the
    recent history the policies featurise."""
    whole = DialogueStateTracker.from_events("c", full, slots=DOMAIN.slots)
    window = DialogueStateTracker.from_events("c", kept, slots=DOMAIN.slots)
    assert window.current_slot_values() == whole.current_slot_values()
    assert window.active_loop_name == whole.active_loop_name
    recent = [e.as_dict() for e in whole.applied_events()[-12:]]
    assert [e.as_dict() for e in window.applied_events()[-12:]] == recent


def test_a_long_session_keeps_its_last_turns_and_the_state_rasa_would_have() -> None:
    full = conversation(40, form_at=None)
    kept = windowed(full, DOMAIN, turns=12)
    assert texts(kept) == [f"message {n}" for n in range(29, 41)]
    same_as_rasa_reads_it(full, kept)
    assert len(kept) < len(full) / 2


def test_a_form_running_across_the_cut_is_kept_from_where_it_started() -> None:
    """Rasa folds a form's turns back to where it started: the cut moves before that."""
    full = conversation(40, form_at=26)
    kept = windowed(full, DOMAIN, turns=12)
    assert texts(kept)[0] == "message 26", "the message that started the form is kept"
    same_as_rasa_reads_it(full, kept)


def test_a_fallbacks_rewinds_never_reach_behind_the_cut() -> None:
    """The two-stage fallback undoes the misunderstood message and the "yes" after it."""
    full = conversation(8, form_at=None)
    full += [
        UserUttered("blorp", {"name": "nlu_fallback"}, timestamp=2000.0),
        ActiveLoop("action_two_stage_fallback", timestamp=2000.1),
        BotUttered("Did you mean to check an order?", timestamp=2000.2),
        ActionExecuted("action_listen", timestamp=2000.3),
        UserUttered("yes", {"name": "affirm"}, timestamp=2001.0),
        ActiveLoop(None, timestamp=2001.1),
        UserUtteranceReverted(timestamp=2001.2),
        UserUtteranceReverted(timestamp=2001.3),
        UserUttered("blorp", {"name": "order_status"}, timestamp=2001.4),
        SlotSet("order_number", "A1", timestamp=2001.5),
        ActionExecuted("action_listen", timestamp=2001.6),
    ]
    for n in range(9, 21):
        full += turn(n, 3000.0 + n)
    for turns in (12, 13, 14, 15, 16):
        kept = windowed(full, DOMAIN, turns=turns)
        same_as_rasa_reads_it(full, kept)


def test_a_short_session_is_kept_whole_and_earlier_sessions_are_not() -> None:
    earlier = conversation(3, start=1000.0)
    latest = session_start(9000.0) + turn(1, 9001.0)
    assert windowed(earlier + latest, DOMAIN, turns=12) == latest
    assert windowed(earlier, DOMAIN, turns=12) == earlier


@pytest.fixture
def events_url(servers: Servers) -> str:
    return create_database(servers, "window")


@pytest.fixture
def broker(events_url: str, tmp_path: Path) -> Iterator[ResilientSQLEventBroker]:
    started = ResilientSQLEventBroker(host=events_url, spool_path=tmp_path / "spool.sqlite3")
    yield started
    started.close_now()


@pytest.fixture
def store(own_redis: OwnRedis, broker: ResilientSQLEventBroker) -> TimeoutRedisTrackerStore:
    return TimeoutRedisTrackerStore(
        DOMAIN,
        host=own_redis.host,
        port=str(own_redis.port),
        password=own_redis.password,
        key_prefix="windowtest",
        event_broker=broker,
    )


def stored_event_kinds(url: str, sender: str) -> list[tuple[str, float]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (sender,))
            rows = [json.loads(data) for (data,) in cur.fetchall()]
    finally:
        conn.close()
    return [(row["event"], row["timestamp"]) for row in rows]


def test_every_turn_streams_each_event_once_while_redis_keeps_the_window(
    store: TimeoutRedisTrackerStore,
    broker: ResilientSQLEventBroker,
    own_redis: OwnRedis,
    events_url: str,
) -> None:
    """30 turns as Rasa runs them: read, add the turn, save. PostgreSQL gets all of them once
    and in order; Redis holds the last 12 and the slots."""
    sender = "rest:window"
    first = DialogueStateTracker.from_events(sender, conversation(0), slots=DOMAIN.slots)
    asyncio.run(store.save(first))
    everything = conversation(0)
    for n in range(1, 31):
        tracker = asyncio.run(store.retrieve(sender))
        assert tracker is not None
        new = turn(n, 1000.0 + n)
        tracker.update_with_events(new, domain=None)
        everything += new
        asyncio.run(store.save(tracker))
    assert broker.flush(10)

    expected = [(e.as_dict()["event"], e.timestamp) for e in everything]
    assert stored_event_kinds(events_url, sender) == expected
    raw = redis.Redis(host=own_redis.host, port=own_redis.port, password=own_redis.password)
    stored = json.loads(raw.get(f"windowtest:tracker:{sender}"))["events"]
    raw.close()
    assert [e["text"] for e in stored if e["event"] == "user"] == [
        f"message {n}" for n in range(19, 31)
    ]
    back = asyncio.run(store.retrieve(sender))
    assert back is not None
    assert back.get_slot("customer_name") == "Alice" and back.get_slot("mood_messages") == 30.0
