from __future__ import annotations

import asyncio
import json

from rasa.core.channels.slack import SlackInput

from channels.slack import SlackChannel, UnconfiguredSlack, unconfigured_webhook


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
