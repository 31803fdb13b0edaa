from __future__ import annotations

import asyncio
import json

from rasa.core.channels.slack import SlackInput

from channels.slack import (
    SlackChannel,
    UnconfiguredSlack,
    from_own_workspace,
    is_direct_message,
    unconfigured_webhook,
)


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
