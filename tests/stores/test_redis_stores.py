"""The Redis tracker and lock stores on a real Redis: timeouts, off the loop, withheld replies."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from personalization.redaction import WITHHELD
from stores.redis import TimeoutRedisLockStore, TimeoutRedisTrackerStore
from tests.stores.conftest import OwnRedis

EXPORT = "Here is what we hold about you: alice@example.com, 12 Station Road, cust-0001"


def tracker_endpoint(own: OwnRedis, **extra: str) -> EndpointConfig:
    """As endpoints.yml gives it: every parameter as text from the environment."""
    return EndpointConfig(
        url=own.host,
        type="stores.redis.TimeoutRedisTrackerStore",
        port=str(own.port),
        db="0",
        password=own.password,
        key_prefix="storetest",
        record_exp="",
        **extra,
    )


@pytest.fixture
def tracker_store(own_redis: OwnRedis) -> TimeoutRedisTrackerStore:
    store = TrackerStore.create(tracker_endpoint(own_redis), Domain.empty())
    assert isinstance(store, TimeoutRedisTrackerStore), "Rasa loads our class, not its fallback"
    return store


@pytest.fixture
def raw(own_redis: OwnRedis) -> Iterator[redis.Redis]:
    client = redis.Redis(
        host=own_redis.host, port=own_redis.port, password=own_redis.password, db=0
    )
    yield client
    client.close()


def test_the_clients_have_socket_and_connect_timeouts(
    own_redis: OwnRedis, tracker_store: TimeoutRedisTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = tracker_store.red.connection_pool.connection_kwargs
    assert (options["socket_timeout"], options["socket_connect_timeout"]) == (1.0, 1.0)
    monkeypatch.setenv("REDIS_SOCKET_TIMEOUT_S", "0.5")
    monkeypatch.setenv("REDIS_CONNECT_TIMEOUT_S", "0.25")
    lock_store = LockStore.create(
        EndpointConfig(
            url=own_redis.host,
            type="stores.redis.TimeoutRedisLockStore",
            port=str(own_redis.port),
            db="0",
            password=own_redis.password,
            key_prefix="storetest",
        )
    )
    assert isinstance(lock_store, TimeoutRedisLockStore)
    options = lock_store.red.connection_pool.connection_kwargs
    assert (options["socket_timeout"], options["socket_connect_timeout"]) == (0.5, 0.25)


def test_a_conversation_is_saved_in_redis_and_read_back(
    tracker_store: TimeoutRedisTrackerStore, raw: redis.Redis
) -> None:
    tracker = DialogueStateTracker.from_events(
        "rest:round-trip", [UserUttered("where is my order"), BotUttered("Let me look.")]
    )
    asyncio.run(tracker_store.save(tracker))
    assert raw.exists("storetest:tracker:rest:round-trip")
    back = asyncio.run(tracker_store.retrieve("rest:round-trip"))
    assert back is not None
    assert [e.text for e in back.events if isinstance(e, UserUttered | BotUttered)] == [
        "where is my order",
        "Let me look.",
    ]


def test_a_reply_that_echoes_personal_data_is_withheld_in_redis(
    tracker_store: TimeoutRedisTrackerStore, raw: redis.Redis
) -> None:
    sender = "rest:export"
    tracker = DialogueStateTracker.from_events(
        sender,
        [
            UserUttered("send me my data"),
            ActionExecuted("action_export_data"),
            BotUttered(EXPORT, {"custom": {"export": EXPORT}}, {"utter_action": "utter_export"}),
            BotUttered("Anything else?", metadata={"utter_action": "utter_anything_else"}),
        ],
    )
    asyncio.run(tracker_store.save(tracker))
    stored = raw.get(f"storetest:tracker:{sender}").decode()
    assert "alice@example.com" not in stored and "Station Road" not in stored
    assert WITHHELD in stored and "utter_export" in stored and "Anything else?" in stored
    assert any(e.text == EXPORT for e in tracker.events if isinstance(e, BotUttered)), (
        "Rasa's own tracker keeps the reply it already sent"
    )
    # A second save of the same tracker (more events in the same turn) adds no duplicate.
    tracker.update(ActionExecuted("action_listen"))
    asyncio.run(tracker_store.save(tracker))
    events = json.loads(raw.get(f"storetest:tracker:{sender}"))["events"]
    bots = [e for e in events if e["event"] == "bot"]
    assert [b["text"] for b in bots] == [WITHHELD, "Anything else?"]
    assert bots[0]["data"] == {} or not any(bots[0]["data"].values())
    assert events[-1]["name"] == "action_listen"


def test_a_dead_redis_fails_fast(own_redis: OwnRedis) -> None:
    dead = TimeoutRedisTrackerStore(
        Domain.empty(), host="127.0.0.1", port=str(unused_port()), password=""
    )
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        asyncio.run(dead.retrieve("rest:anyone"))
    assert time.monotonic() - started < 2.5
    lock_store = TimeoutRedisLockStore(host="127.0.0.1", port=unused_port())

    async def take_lock() -> None:
        async with lock_store.lock("rest:anyone"):
            pass

    with pytest.raises(LockError):
        asyncio.run(take_lock())


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SilentServer:
    """Accepts connections and never answers: a hung Redis."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def test_a_hung_redis_times_out_and_the_event_loop_keeps_serving() -> None:
    hung = SilentServer()
    try:
        store = TimeoutRedisTrackerStore(Domain.empty(), host="127.0.0.1", port=hung.port)

        async def scenario() -> tuple[float, float]:
            lag = 0.0
            done = asyncio.Event()

            async def bystander() -> None:
                nonlocal lag
                loop = asyncio.get_running_loop()
                while not done.is_set():
                    due = loop.time() + 0.01
                    await asyncio.sleep(0.01)
                    lag = max(lag, loop.time() - due)

            ticking = asyncio.create_task(bystander())
            started = time.monotonic()
            with pytest.raises(redis.TimeoutError):
                await store.retrieve("rest:anyone")
            waited = time.monotonic() - started
            done.set()
            await ticking
            return waited, lag

        waited, lag = asyncio.run(scenario())
        assert 0.9 < waited < 2.5, "gives up after REDIS_SOCKET_TIMEOUT_S (1 s)"
        assert lag < 0.2, "the wait happened off the event loop"
    finally:
        hung.close()
