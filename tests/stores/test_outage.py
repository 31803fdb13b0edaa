"""Redis dies under a real Rasa agent: the channels answer "we're having trouble", never
silence, and the conversation goes on once Redis is back.

The agent is Rasa's own, loaded from the trained model with the stores and action endpoint
of endpoints.yml: the Redis is this test's own (killed and restarted here), the action server
the project's, on the session's PostgreSQL. Messages arrive through the REST and socket.io
channels' real handlers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from rasa.core.agent import Agent, load_agent
from rasa.core.utils import AvailableEndpoints
from sanic import Sanic
from sanic.compat import Header
from sanic.models.server_types import ConnInfo
from sanic.request import Request

from channels.doors import TROUBLE_REPLY
from channels.identity import ChannelIdentity
from channels.rest import RestChannel
from channels.socketio import SessionIds, SocketIOChannel
from personalization.settings import DatabaseSettings, IdentitySettings
from personalization.store import Database
from personalization.store.migrate import migrate
from stack.processes import action_server, wait_until_ready
from stack.services import free_tcp_port
from stores.redis import TimeoutRedisLockStore, TimeoutRedisTrackerStore
from tests.conftest import Servers, create_database
from tests.stores.conftest import OwnRedis

PROJECT = Path(__file__).resolve().parents[2]
MODEL = PROJECT / "models" / "shopbot.tar.gz"
KEY = b"identity-key-for-the-outage-tests-0123"
ACTION_TOKEN = "action-server-token-for-the-outage-tests"
GOODBYES = {
    "Goodbye, and thanks for visiting Hearth & Home!",
    "Bye for now! Come back any time you need help.",
}
APP = Sanic("outage_tests")


@pytest.fixture(scope="module")
def action_url(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The project's action server, on a fresh database of the session's PostgreSQL."""
    url = create_database(servers, "outage")
    db = Database(DatabaseSettings(url=url))
    try:
        migrate(db)
    finally:
        db.close()
    port = str(free_tcp_port())
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": servers.redis_url,
        "ACTION_HOST": "127.0.0.1",
        "ACTION_PORT": port,
        "ACTION_SERVER_TOKEN": ACTION_TOKEN,
        "ACTIONS_WARM_UP": "0",
        "IDENTITY_KEY": KEY.decode(),
        "PSEUDONYM_KEY": os.environ.get("PSEUDONYM_KEY") or "pseudonym-key-for-outage-tests-01",
    }
    server = action_server(env, tmp_path_factory.mktemp("action-logs"))
    server.start(env, PROJECT)
    try:
        wait_until_ready([server], 120)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def agent(own_redis: OwnRedis, action_url: str) -> Iterator[Agent]:
    if not MODEL.is_file():
        pytest.skip("no trained model: run `.venv/bin/python -m stack train` first")
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "ACTION_ENDPOINT_URL": action_url,
            "ACTION_SERVER_TOKEN": ACTION_TOKEN,
            "REDIS_HOST": own_redis.host,
            "REDIS_PORT": str(own_redis.port),
            "REDIS_DB": "0",
            "REDIS_PASSWORD": own_redis.password,
            "TRACKER_KEY_PREFIX": "outage",
            "TRACKER_RECORD_EXP": "3600",
            "LOCK_KEY_PREFIX": "outage",
            "DATABASE_URL": "postgresql://unused",
        }.items():
            env.setenv(name, value)
        configured = AvailableEndpoints.read_endpoints(str(PROJECT / "endpoints.yml"))
        # The stores and actions exactly as endpoints.yml names them; no event broker.
        endpoints = AvailableEndpoints(
            action=configured.action,
            tracker_store=configured.tracker_store,
            lock_store=configured.lock_store,
        )
        loaded = asyncio.run(load_agent(model_path=str(MODEL), endpoints=endpoints))
    # Rasa wraps it in its FailSafeTrackerStore, which no longer hides its errors.
    assert isinstance(loaded.tracker_store._tracker_store, TimeoutRedisTrackerStore)
    assert isinstance(loaded.lock_store, TimeoutRedisLockStore)
    yield loaded


class Transport:
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("203.0.113.7", 5000), "sockname": ("127.0.0.1", 5005)}.get(
            name, default
        )


def rest_request(sender: str, text: str) -> Request:
    made = Request(
        b"/webhooks/rest/webhook",
        Header({"content-type": "application/json"}),
        "1.1",
        "POST",
        Transport(),
        APP,
    )
    made.body = json.dumps({"sender": sender, "message": text}).encode()
    made.conn_info = ConnInfo(Transport())
    return made


def rest_webhook(agent: Agent) -> Any:
    channel = RestChannel()
    channel.identity = ChannelIdentity(None, IdentitySettings(binding_key=KEY))
    blueprint = channel.blueprint(agent.handle_message)
    [route] = [r for r in blueprint._future_routes if r.uri == "/webhook"]
    return route.handler


class SocketHarness:
    """The socket.io channel's handlers on its real server, emits recorded."""

    def __init__(self, agent: Agent) -> None:
        channel = SocketIOChannel.from_credentials(
            {"session_persistence": True, "user_message_evt": "user_uttered"}
        )
        assert isinstance(channel, SocketIOChannel)
        channel.identity = ChannelIdentity(None, IdentitySettings(binding_key=KEY))
        channel.blueprint(agent.handle_message)
        sio = channel.sio
        assert sio is not None
        self.emitted: list[tuple[str, Any]] = []
        self.session = SessionIds(KEY).new()

        async def emit(event: str, data: Any = None, room: str | None = None, **_: Any) -> None:
            self.emitted.append((event, data))

        async def get_session(sid: str, namespace: str | None = None) -> dict:
            return {"session_id": self.session}

        sio.emit = emit  # type: ignore[method-assign]
        sio.get_session = get_session  # type: ignore[method-assign]
        sio.get_environ = lambda sid, namespace=None: {  # type: ignore[method-assign]
            "sanic.request": SimpleNamespace(remote_addr="", ip="203.0.113.8")
        }
        self.handler = sio.handlers["/"]["user_uttered"]

    def say(self, text: str) -> list[str]:
        self.emitted.clear()
        asyncio.run(self.handler("sid-1", {"message": text, "session_id": self.session}))
        return [data.get("text", "") for event, data in self.emitted if event == "bot_uttered"]


def rest_say(handler: Any, sender: str, text: str) -> tuple[int, list[str]]:
    answer = asyncio.run(handler(rest_request(sender, text)))
    return answer.status, [m.get("text", "") for m in json.loads(answer.body)]


def test_a_dead_redis_gets_the_trouble_reply_and_the_conversation_resumes(
    agent: Agent, own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    rest = rest_webhook(agent)
    web = SocketHarness(agent)
    status, texts = rest_say(rest, "outage-1", "bye")
    assert status == 200 and GOODBYES & set(texts), texts
    assert GOODBYES & set(web.say("bye"))
    stored = redis.Redis(host=own_redis.host, port=own_redis.port, password=own_redis.password)
    assert stored.exists("outage:tracker:rest:outage-1")
    stored.close()

    own_redis.kill()
    caplog.clear()
    caplog.set_level(logging.INFO)
    secret = "bye, my email is carol@example.com"
    started = time.monotonic()
    status, texts = rest_say(rest, "outage-1", secret)
    assert (status, texts) == (200, [TROUBLE_REPLY]), "never [] and never a 5xx"
    assert time.monotonic() - started < 3, "a dead Redis is noticed at once"
    assert web.say(secret) == [TROUBLE_REPLY]
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "carol@example.com" not in logged, "no customer text in the failure's log"
    assert "LockError" in logged or "ConnectionError" in logged

    own_redis.restart()
    status, texts = rest_say(rest, "outage-1", "bye")
    assert status == 200 and GOODBYES & set(texts), texts
    assert GOODBYES & set(web.say("bye"))
    # The conversation from before the outage is still there.
    tracker = asyncio.run(agent.tracker_store.retrieve_full_tracker("rest:outage-1"))
    assert tracker is not None
    said = [e.text for e in tracker.events if e.type_name == "user"]  # type: ignore[attr-defined]
    assert said.count("bye") >= 2 and secret not in said


def test_a_message_at_the_limit_is_parsed_by_the_real_agent(agent: Agent) -> None:
    status, texts = rest_say(rest_webhook(agent), "outage-2", "where is my order " * 111)
    assert status == 200 and texts and TROUBLE_REPLY not in texts


def test_a_bystander_is_answered_while_a_long_message_is_parsed(agent: Agent) -> None:
    """Parsing runs in the parse worker thread: the event loop keeps ticking meanwhile."""

    async def scenario() -> float:
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
        for text in ("a " * 1000, "alice@example.com " * 111, "7" * 2000):
            await agent.parse_message(text)
        done.set()
        await ticking
        return lag

    rest_webhook(agent)  # the channel installs off-loop parsing, as at Rasa's start
    assert asyncio.run(scenario()) < 0.1


def test_a_tracker_store_failure_is_not_hidden_by_rasas_in_memory_fallback(
    agent: Agent, own_redis: OwnRedis
) -> None:
    """Rasa's FailSafeTrackerStore would answer from a new, empty conversation kept in
    memory; with our store the customer is told to try again, and nothing is lost."""
    rest = rest_webhook(agent)
    status, texts = rest_say(rest, "outage-3", "bye")
    assert status == 200 and GOODBYES & set(texts)
    wrapper = agent.tracker_store
    working = wrapper._tracker_store  # type: ignore[attr-defined]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    wrapper._tracker_store = TimeoutRedisTrackerStore(  # type: ignore[attr-defined]
        working.domain, host="127.0.0.1", port=dead_port, key_prefix="outage"
    )
    try:
        assert rest_say(rest, "outage-3", "thanks") == (200, [TROUBLE_REPLY])
    finally:
        wrapper._tracker_store = working  # type: ignore[attr-defined]
    assert not wrapper._fallback_tracker_store or not asyncio.run(  # type: ignore[attr-defined]
        wrapper._fallback_tracker_store.keys()  # type: ignore[attr-defined]
    ), "nothing went to Rasa's in-memory fallback"
    tracker = asyncio.run(agent.tracker_store.retrieve("rest:outage-3"))
    assert tracker is not None and tracker.latest_message.text == "bye"
