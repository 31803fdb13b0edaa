"""stack/action_calls.py: Rasa sends an action call again only when it never reached the
action server, against real local aiohttp servers."""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa.core.actions import action as rasa_action
from rasa.core.actions.action import RemoteAction
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from personalization.settings import ActionCallSettings
from stack import action_calls
from stack.action_calls import Attempt, undelivered
from stack.services import free_tcp_port

pytestmark = pytest.mark.fast

HOST = "127.0.0.1"
SENDER = "customer-secret-7"
ANSWER = {"events": [{"event": "slot", "name": "seen", "value": "yes"}], "responses": []}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
def retry_for(request: pytest.FixtureRequest) -> Iterator[float]:
    seconds = getattr(request, "param", 6.0)
    action_calls.install(ActionCallSettings(retry_s=seconds))
    yield seconds
    action_calls.uninstall()


class Server:
    """An action server on 127.0.0.1 that counts the calls it receives."""

    def __init__(self, port: int, handler: Handler) -> None:
        self.port = port
        self.calls = 0
        self._handler = handler
        self._runner: web.AppRunner | None = None

    async def _count(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        await request.read()
        return await self._handler(request)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhook", self._count)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def answer(_request: web.Request) -> web.StreamResponse:
    return web.json_response(ANSWER)


def endpoint(port: int) -> EndpointConfig:
    return EndpointConfig(url=f"http://{HOST}:{port}/webhook")


async def run_on_pool(config: EndpointConfig, domain: Domain | None = None) -> list[Any]:
    """One action call that leaves the pool open for the next."""
    return await RemoteAction("action_check_order", config).run(
        CollectingOutputChannel(),
        TemplatedNaturalLanguageGenerator({}),
        DialogueStateTracker(SENDER, slots=[]),
        domain or Domain.empty(),
    )


async def run_action(config: EndpointConfig) -> list[Any]:
    try:
        return await run_on_pool(config)
    finally:
        await action_calls.close_pool()


def retry_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "stack.action_calls"]


def test_a_server_that_comes_back_gets_the_call(
    retry_for: float, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_tcp_port()
    server = Server(port, answer)

    async def scenario() -> tuple[list[Any], float]:
        async def start_later() -> None:
            await asyncio.sleep(1.0)
            await server.start()

        starter = asyncio.create_task(start_later())
        started = time.monotonic()
        try:
            events = await run_action(endpoint(port))
            return events, time.monotonic() - started
        finally:
            await starter
            await server.stop()

    caplog.set_level(logging.WARNING, logger="stack.action_calls")
    events, elapsed = asyncio.run(scenario())
    assert events == [SlotSet("seen", "yes")]
    assert server.calls == 1
    assert 0.9 <= elapsed < retry_for
    warnings = retry_warnings(caplog)
    assert len(warnings) == 1, "one line per retried call"
    line = warnings[0].getMessage()
    assert line.startswith(f"action server call to http://{HOST}:{port} not delivered")
    assert "ClientConnectorError" in line and "succeeded" in line
    for content in (SENDER, "action_check_order", "tracker", "/webhook"):
        assert content not in line


def test_an_error_answer_is_not_sent_again(
    retry_for: float, caplog: pytest.LogCaptureFixture
) -> None:
    async def fail(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="boom")

    server = Server(free_tcp_port(), fail)

    async def scenario() -> None:
        await server.start()
        try:
            with pytest.raises(RasaException, match="Failed to execute custom action"):
                await run_action(endpoint(server.port))
        finally:
            await server.stop()

    asyncio.run(scenario())
    assert server.calls == 1
    assert not retry_warnings(caplog)


def test_a_timed_out_call_is_not_sent_again(
    retry_for: float, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rasa_action, "DEFAULT_REQUEST_TIMEOUT", 0.5)

    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2.0)
        return web.json_response(ANSWER)

    server = Server(free_tcp_port(), slow)

    async def scenario() -> float:
        await server.start()
        started = time.monotonic()
        try:
            with pytest.raises(asyncio.TimeoutError):
                await run_action(endpoint(server.port))
            elapsed = time.monotonic() - started
            await asyncio.sleep(1.0)  # room for a second call to arrive, if one were sent
            return elapsed
        finally:
            await server.stop()

    elapsed = asyncio.run(scenario())
    assert elapsed < 1.5
    assert server.calls == 1
    assert not retry_warnings(caplog)


@pytest.mark.parametrize("retry_for", [2.0], indirect=True)
def test_nobody_listening_fails_after_the_retry_time_as_rasa_expects(
    retry_for: float, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_tcp_port()

    async def scenario() -> tuple[RasaException, float]:
        started = time.monotonic()
        with pytest.raises(RasaException, match="Couldn't connect") as caught:
            await run_action(endpoint(port))
        return caught.value, time.monotonic() - started

    caplog.set_level(logging.WARNING, logger="stack.action_calls")
    error, elapsed = asyncio.run(scenario())
    assert retry_for - 0.1 <= elapsed < retry_for + 1.0
    # Rasa's own handler of a connection error turned it into its message.
    assert isinstance(error.__context__, aiohttp.ClientConnectorError)
    warnings = retry_warnings(caplog)
    assert len(warnings) == 1
    assert "failed with ClientConnectorError" in warnings[0].getMessage()


def test_calls_share_kept_alive_connections_and_send_the_endpoints_headers(
    retry_for: float,
) -> None:
    peers: list[Any] = []
    bodies: list[dict[str, Any]] = []

    async def record(request: web.Request) -> web.StreamResponse:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        bodies.append({"auth": request.headers.get("Authorization"), **await request.json()})
        return web.json_response(ANSWER)

    server = Server(free_tcp_port(), record)
    config = EndpointConfig(
        url=f"http://{HOST}:{server.port}/webhook", headers={"Authorization": "Bearer t0k"}
    )
    domain = Domain.from_dict({"responses": {"utter_hi": [{"text": "Hi there"}]}})

    async def scenario() -> None:
        await server.start()
        try:
            for _ in range(3):
                await run_on_pool(config, domain)
        finally:
            await action_calls.close_pool()
            await server.stop()

    asyncio.run(scenario())
    assert server.calls == 3
    assert len(set(peers)) == 1, "one TCP connection, kept alive, carried every call"
    assert all(body["auth"] == "Bearer t0k" for body in bodies)
    assert all(body["sender_id"] == SENDER for body in bodies)
    assert "responses" not in bodies[0]["domain"]
    assert bodies[0]["domain"]["session_config"] == domain.as_dict()["session_config"]


def test_a_call_whose_pooled_connection_drops_after_it_arrived_is_not_sent_again(
    retry_for: float, caplog: pytest.LogCaptureFixture
) -> None:
    """The server takes the call, then its connection closes with no answer (as a server
    that dies running the action): the action may have run, so it is not run twice."""

    calls = {"n": 0}

    async def answer_then_hang_up(request: web.Request) -> web.StreamResponse:
        calls["n"] += 1
        if calls["n"] > 1 and request.transport is not None:
            request.transport.close()  # the first call answers and leaves a pooled connection
        return web.json_response(ANSWER)

    server = Server(free_tcp_port(), answer_then_hang_up)

    async def scenario() -> None:
        await server.start()
        try:
            config = endpoint(server.port)
            assert await run_on_pool(config) == [SlotSet("seen", "yes")]
            with pytest.raises(RasaException):
                await run_on_pool(config)
            await asyncio.sleep(0.5)  # room for a second call to arrive, if one were sent
        finally:
            await action_calls.close_pool()
            await server.stop()

    caplog.set_level(logging.WARNING, logger="stack.action_calls")
    asyncio.run(scenario())
    assert server.calls == 2, "the call that reached the server was sent once"
    assert not retry_warnings(caplog)


def test_other_endpoint_calls_are_left_alone(retry_for: float) -> None:
    """Only the action endpoint inside RemoteAction.run is retried, with aiohttp's error."""

    async def scenario() -> float:
        started = time.monotonic()
        with pytest.raises(aiohttp.ClientConnectorError):
            await endpoint(free_tcp_port()).request(json={"x": 1}, method="post")
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 1.0


def test_install_twice_keeps_one_patch(retry_for: float) -> None:
    patched = EndpointConfig.request
    action_calls.install(ActionCallSettings(retry_s=1.0))
    assert EndpointConfig.request is patched
    assert action_calls._settings.retry_s == 1.0


def test_uninstall_restores_rasa() -> None:
    request, session, run = EndpointConfig.request, EndpointConfig.session, RemoteAction.run
    action_calls.install(ActionCallSettings())
    assert EndpointConfig.request is not request
    action_calls.uninstall()
    assert (EndpointConfig.request, EndpointConfig.session, RemoteAction.run) == (
        request,
        session,
        run,
    )


def test_the_retry_time_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTION_CALL_RETRY_S", raising=False)
    assert ActionCallSettings.from_env().retry_s == 6.0
    monkeypatch.setenv("ACTION_CALL_RETRY_S", "2.5")
    assert ActionCallSettings.from_env().retry_s == 2.5


def connector_error(exc_class: type[aiohttp.ClientConnectorError]) -> BaseException:
    key = SimpleNamespace(host=HOST, port=1, ssl=None)
    return exc_class(key, OSError(errno.ECONNREFUSED, "refused"))  # type: ignore[arg-type]


FRESH, ANSWERED = Attempt(), Attempt(response_started=True)


@pytest.mark.parametrize(
    ("exc", "attempt", "retried"),
    [
        (connector_error(aiohttp.ClientConnectorError), FRESH, True),
        (connector_error(aiohttp.ClientSSLError), FRESH, False),
        (aiohttp.ClientOSError(errno.EPIPE, "Can not write request body for x"), FRESH, True),
        (aiohttp.ClientOSError("Cannot write to closing transport"), FRESH, True),
        (aiohttp.ServerDisconnectedError(), FRESH, False),
        (aiohttp.ClientOSError(errno.ECONNRESET, "reset"), FRESH, False),
        (aiohttp.ServerDisconnectedError(), ANSWERED, False),
        (aiohttp.ClientOSError(errno.EPIPE, "Can not write request body"), ANSWERED, False),
        (aiohttp.ServerTimeoutError("Timeout on reading data"), FRESH, False),
        (asyncio.TimeoutError(), FRESH, False),
        (aiohttp.ClientPayloadError("Response payload is not completed"), FRESH, False),
    ],
)
def test_what_counts_as_undelivered(exc: BaseException, attempt: Attempt, retried: bool) -> None:
    assert undelivered(exc, attempt) is retried
