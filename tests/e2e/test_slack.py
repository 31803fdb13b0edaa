"""Slack, end to end: signed events posted to the running bot, replies read from a local
HTTP server that stands in for Slack's Web API (SLACK_API_URL)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
import requests

from tests.e2e.fixtures import SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from tests.e2e.slack_api import RecordingSlackApi
from tests.e2e.stack import RunningStack, any_welcome_back, order_prefix, variants

pytestmark = pytest.mark.e2e


def direct_message(user: str, channel: str, text: str) -> dict:
    return {
        "token": "verification-token",
        "team_id": "T0SHOP",
        "api_app_id": "A0SHOP",
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()),
        "authorizations": [{"user_id": "U0BOT"}],
        "event": {
            "type": "message",
            "channel": channel,
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
        },
    }


def post_event(
    stack: RunningStack,
    event: dict,
    secret: str = SLACK_SIGNING_SECRET,
    timestamp: int | None = None,
) -> requests.Response:
    body = json.dumps(event)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return requests.post(
        f"{stack.base_url}/webhooks/slack/webhook",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest.hexdigest()}",
        },
        timeout=10,
    )


def new_dm() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8].upper()
    return f"U{suffix}", f"D{suffix}"


def test_a_signed_message_gets_the_personal_reply_posted_to_slack(
    stack: RunningStack, slack_api: RecordingSlackApi
) -> None:
    user, channel = new_dm()
    slack_api.emails[user] = "alice.martin@example.com"  # Alice's Slack account
    answer = post_event(stack, direct_message(user, channel, "hi"))
    assert answer.status_code == 200, answer.text
    posted = slack_api.wait_for_posts(channel, at_least=3)
    assert posted and posted[0] in any_welcome_back("Alice"), posted
    assert any(order_prefix("cust-0001") in text for text in posted), "her open order is mentioned"
    lookups = [c for c in slack_api.calls if c.method == "users.info"]
    assert {"user": user} in [c.args for c in lookups]
    post = next(c for c in slack_api.calls if c.method == "chat.postMessage")
    assert post.authorization == f"Bearer {SLACK_BOT_TOKEN}"


def test_a_slack_user_who_is_not_a_customer_is_an_anonymous_visitor(
    stack: RunningStack, slack_api: RecordingSlackApi
) -> None:
    user, channel = new_dm()
    slack_api.emails[user] = "someone.else@example.org"
    assert post_event(stack, direct_message(user, channel, "hello")).status_code == 200
    posted = slack_api.wait_for_posts(channel, at_least=2)
    assert posted and posted[0] in variants("utter_welcome"), posted


@pytest.mark.parametrize(
    "how",
    ["wrong secret", "replayed an hour later", "unsigned"],
)
def test_badly_signed_events_are_rejected_and_not_answered(
    stack: RunningStack, slack_api: RecordingSlackApi, how: str
) -> None:
    user, channel = new_dm()
    slack_api.emails[user] = "alice.martin@example.com"
    event = direct_message(user, channel, "hi")
    if how == "wrong secret":
        answer = post_event(stack, event, secret="not-the-secret")
    elif how == "replayed an hour later":
        answer = post_event(stack, event, timestamp=int(time.time()) - 3600)
    else:
        answer = requests.post(f"{stack.base_url}/webhooks/slack/webhook", json=event, timeout=10)
    assert answer.status_code == 400
    assert "signed" in answer.text
    time.sleep(3)
    assert slack_api.posted(channel) == []
    assert not [c for c in slack_api.calls if c.args.get("user") == user]


def test_the_url_verification_challenge_is_answered_when_signed(stack: RunningStack) -> None:
    challenge = {
        "type": "url_verification",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    }
    answer = post_event(stack, challenge)
    assert answer.status_code == 200 and answer.json() == challenge["challenge"]
