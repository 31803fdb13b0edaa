"""The action server's door (rasa_sdk_plugins): a shared secret, loopback, quiet errors."""

from __future__ import annotations

import logging
import os
import types
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import rasa_sdk
from rasa_sdk import Action
from rasa_sdk.endpoint import create_app
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request

import rasa_sdk_plugins
from personalization.settings import ActionServerSettings
from tests.stack.asgi import Client, bearer

pytestmark = [
    pytest.mark.fast,
    pytest.mark.usefixtures("sanic_test_mode"),
    # sanic-cors registers a start-up listener; in ASGI mode Sanic warns that it runs early.
    pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning"),
]

SECRET = "s" * 32
# What a tracker carries: personal data that must not come back in an error, nor be logged.
PERSONAL = {"customer_name": "Alice Moreau", "email": "alice@example.com"}


def guarded_app(token: str) -> Client:
    app = Sanic("t" + uuid.uuid4().hex)
    rasa_sdk_plugins.guard(app, ActionServerSettings(token=token))

    @app.post("/webhook")
    async def webhook(request: Request) -> Any:
        if request.json.get("explode"):
            raise RuntimeError("the action broke")
        return response.json({"events": [], "responses": []})

    @app.get("/health")
    async def health(request: Request) -> Any:
        return response.json({"status": "ok"})

    return Client(app)


@pytest.fixture
def client() -> Iterator[Client]:
    client = guarded_app(SECRET)
    yield client
    client.close()


def test_a_call_without_the_secret_is_refused(client: Client) -> None:
    reply = client.post("/webhook", {"next_action": "action_export_data"})
    assert (reply.status, reply.json()) == (401, {"error": "unauthorised"})


@pytest.mark.parametrize(
    "headers",
    [
        bearer("s" * 31),
        bearer(SECRET + "s"),
        bearer("wrong-" + SECRET),
        {"authorization": SECRET},
        {"authorization": f"Basic {SECRET}"},
        {"authorization": "Bearer "},
        {"x-action-server-token": SECRET},
    ],
    ids=["short", "long", "wrong", "no-scheme", "basic", "empty", "other-header"],
)
def test_a_call_with_a_wrong_secret_is_refused(client: Client, headers: dict[str, str]) -> None:
    assert client.post("/webhook", {}, headers=headers).status == 401


def test_a_secret_in_the_query_string_is_not_accepted(client: Client) -> None:
    assert client.post(f"/webhook?token={SECRET}", {}).status == 401


def test_the_secret_lets_the_call_through(client: Client) -> None:
    reply = client.post("/webhook", {"next_action": "x"}, headers=bearer(SECRET))
    assert (reply.status, reply.json()) == (200, {"events": [], "responses": []})
    lower = client.post("/webhook", {}, headers={"authorization": f"bearer {SECRET}"})
    assert lower.status == 200, "the scheme is case-insensitive (RFC 7235)"


def test_health_is_open_to_everyone(client: Client) -> None:
    reply = client.get("/health")
    assert (reply.status, reply.json()) == (200, {"status": "ok"})


def test_unknown_paths_need_the_secret_too(client: Client) -> None:
    assert client.get("/actions").status == 401
    assert client.get("/health/../actions").status == 401


def test_without_a_configured_secret_every_call_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="rasa_sdk_plugins"):
        client = guarded_app("")
    try:
        assert "ACTION_SERVER_TOKEN is not set" in caplog.text
        assert client.post("/webhook", {}).status == 401
        assert client.post("/webhook", {}, headers={"authorization": "Bearer "}).status == 401
        assert client.get("/health").status == 200
    finally:
        client.close()


def test_an_error_is_a_short_500_that_echoes_nothing(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        reply = client.post(
            "/webhook", {"explode": True, "tracker": {"slots": PERSONAL}}, headers=bearer(SECRET)
        )
    assert (reply.status, reply.json()) == (500, {"error": "the action failed"})
    for value in PERSONAL.values():
        assert value.encode() not in reply.body
        assert value not in caplog.text
    assert "RuntimeError" in caplog.text, "the log says what failed, not with what"


class ActionExplodeForGuardTest(Action):
    def name(self) -> str:
        return "action_explode_for_guard_test"

    async def run(self, dispatcher: Any, tracker: Any, domain: Any) -> list[Any]:
        raise RuntimeError("the action broke")


def rasa_sdk_app(monkeypatch: pytest.MonkeyPatch, **env: str) -> Client:
    """rasa-sdk's own app, with the plugins attached as `rasa run actions` attaches them."""
    for name in ("ACTION_SERVER_TOKEN", "ACTION_LISTEN_HOST", "SANIC_HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    package = types.ModuleType("guard_test_actions")
    package.ActionExplodeForGuardTest = ActionExplodeForGuardTest  # type: ignore[attr-defined]
    app = create_app(package)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return Client(app)


def action_call(action: str) -> dict[str, Any]:
    return {
        "next_action": action,
        "sender_id": "conv-1",
        "version": rasa_sdk.__version__,
        "tracker": {
            "sender_id": "conv-1",
            "slots": PERSONAL,
            "latest_message": {"text": "my email is alice@example.com"},
            "events": [],
        },
        "domain": {},
    }


def test_rasa_sdk_finds_the_plugin_and_listens_on_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = rasa_sdk_app(monkeypatch, ACTION_SERVER_TOKEN=SECRET)
    try:
        assert os.environ["SANIC_HOST"] == "127.0.0.1", "not rasa-sdk's 0.0.0.0"
        assert client.get("/actions").status == 401
        listed = client.get("/actions", headers=bearer(SECRET))
        assert {"name": "action_explode_for_guard_test"} in listed.json()
        assert client.get("/health").status == 200
    finally:
        client.close()


def test_a_configured_listen_host_is_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    client = rasa_sdk_app(monkeypatch, ACTION_SERVER_TOKEN=SECRET, ACTION_LISTEN_HOST="10.0.0.7")
    client.close()
    assert os.environ["SANIC_HOST"] == "10.0.0.7"


def test_a_failing_action_does_not_send_the_tracker_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = rasa_sdk_app(monkeypatch, ACTION_SERVER_TOKEN=SECRET)
    try:
        with caplog.at_level(logging.DEBUG):
            reply = client.post(
                "/webhook", action_call("action_explode_for_guard_test"), headers=bearer(SECRET)
            )
    finally:
        client.close()
    assert (reply.status, reply.json()) == (500, {"error": "the action failed"})
    assert b"alice" not in reply.body.lower()
    assert "alice@example.com" not in caplog.text and "Alice Moreau" not in caplog.text
