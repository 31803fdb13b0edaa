from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.slack import SlackInput
from sanic import Sanic
from sanic.compat import Header
from sanic.models.server_types import ConnInfo
from sanic.request import Request

from channels.doors import BodyTooLarge
from channels.slack import (
    SlackChannel,
    UnconfiguredSlack,
    from_own_workspace,
    is_direct_message,
    unconfigured_webhook,
)
from personalization.settings import InputLimits

pytestmark = pytest.mark.fast


def test_empty_secrets_give_a_placeholder_channel_on_slacks_route() -> None:
    channel = SlackChannel.from_credentials(
        {"slack_token": "", "slack_signing_secret": "", "slack_channel": ""}
    )
    assert isinstance(channel, UnconfiguredSlack)
    assert channel.name() == "slack", "keeps the /webhooks/slack/webhook route"


def test_the_placeholder_answers_503_with_what_to_set() -> None:
    answer = asyncio.run(unconfigured_webhook(None))
    assert answer.status == 503
    assert "SLACK_SIGNING_SECRET" in json.loads(answer.body)["error"]


def test_a_token_without_a_signing_secret_is_not_enough() -> None:
    channel = SlackChannel.from_credentials(
        {"slack_token": "xoxb-test", "slack_signing_secret": ""}
    )
    assert isinstance(channel, UnconfiguredSlack)


def test_configured_secrets_give_rasas_slack_channel() -> None:
    channel = SlackChannel.from_credentials(
        {"slack_token": "xoxb-test", "slack_signing_secret": "secret", "slack_channel": "C1"}
    )
    assert isinstance(channel, SlackInput)
    assert channel.slack_signing_secret == "secret"


class SlackRequest:
    """Enough of a Sanic request for the channel's readers: a JSON event or a form payload."""

    def __init__(self, body: dict, form: bool = False) -> None:
        kind = "application/x-www-form-urlencoded" if form else "application/json"
        self.headers = {"content-type": kind}
        self.json = None if form else body
        self.form = {"payload": json.dumps(body)} if form else {}


def test_only_people_of_the_apps_own_workspace_are_matched_by_email() -> None:
    own = {"team_id": "T1", "event": {"user": "U1", "user_team": "T1"}}
    connect = {"team_id": "T1", "event": {"user": "U9", "user_team": "T9"}}
    plain = {"team_id": "T1", "event": {"user": "U1"}}
    assert from_own_workspace(SlackRequest(own))
    assert from_own_workspace(SlackRequest(plain))
    assert not from_own_workspace(SlackRequest(connect))
    click = {"team": {"id": "T1"}, "user": {"id": "U9", "team_id": "T9"}}
    assert not from_own_workspace(SlackRequest(click, form=True))


def test_only_a_direct_message_is_private() -> None:
    dm = SlackRequest({"event": {"channel": "D1", "channel_type": "im"}})
    shared = SlackRequest({"event": {"channel": "C1", "channel_type": "channel"}})
    assert is_direct_message(dm, {"out_channel": "D1"})
    assert not is_direct_message(shared, {"out_channel": "C1"})
    assert is_direct_message(SlackRequest({}, form=True), {"out_channel": "D2"})


# --- the door ------------------------------------------------------------------------------

SIGNING_SECRET = "slack-signing-secret-for-door-tests"
SLACK_APP = Sanic("slack_door_tests")


class Transport:
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("203.0.113.9", 5000), "sockname": ("127.0.0.1", 5005)}.get(
            name, default
        )


def signed_request(raw: bytes, secret: str = SIGNING_SECRET) -> Request:
    """A request as Slack sends it: its body signed with the app's signing secret."""
    timestamp = str(int(time.time()))
    signature = hmac.new(
        secret.encode(), f"v0:{timestamp}:".encode() + raw, hashlib.sha256
    ).hexdigest()
    headers = {
        "content-type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={signature}",
    }
    made = Request(
        b"/webhooks/slack/webhook", Header(headers), "1.1", "POST", Transport(), SLACK_APP
    )
    made.body = raw
    made.conn_info = ConnInfo(Transport())
    return made


def slack_webhook(limit: int = 1024 * 1024) -> Any:
    channel = SlackChannel.from_credentials(
        {"slack_token": "xoxb-test", "slack_signing_secret": SIGNING_SECRET}
    )
    assert isinstance(channel, SlackChannel)
    channel.limits = InputLimits(max_message_chars=2000, max_body_bytes=limit)

    async def on_new_message(message: UserMessage) -> None:  # pragma: no cover - not reached
        raise AssertionError("no message reaches Rasa in these tests")

    blueprint = channel.blueprint(on_new_message)
    [route] = [r for r in blueprint._future_routes if r.uri == "/webhook"]
    return channel, route.handler


def test_a_signed_request_within_the_limit_reaches_rasas_slack_handler() -> None:
    _, handler = slack_webhook()
    raw = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    answer = asyncio.run(handler(signed_request(raw)))
    assert answer.status == 200 and json.loads(answer.body) == "abc123"
    unsigned = signed_request(raw, secret="not-the-secret")
    assert asyncio.run(handler(unsigned)).status == 400


def test_a_body_over_the_limit_is_a_413_before_the_signature_is_checked() -> None:
    _, handler = slack_webhook(limit=5000)
    raw = json.dumps({"event": {"text": "x" * 10_000}}).encode()
    with pytest.raises(BodyTooLarge) as caught:
        asyncio.run(handler(signed_request(raw)))
    assert caught.value.status_code == 413


def test_a_conversation_id_that_is_not_a_safe_sender_id_is_a_400() -> None:
    channel, _ = slack_webhook()
    body = {"team_id": "T1", "event": {"user": "U1", "channel": "D1", "text": "hi"}}

    async def never(message: UserMessage) -> None:  # pragma: no cover - not reached
        raise AssertionError("not for Rasa")

    answer = asyncio.run(
        channel.process_message(SlackRequest(body), never, "hi", "U1 C1\n", {})  # type: ignore[arg-type]
    )
    assert answer.status == 400
