"""What the bot posts to Slack: its Markdown as mrkdwn, one message per text, read back from a
local server standing in for Slack's Web API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from channels.slack import ShopSlackBot, to_mrkdwn
from tests.e2e.slack_api import RecordingSlackApi

ARTICLE = (
    "**How long does delivery take?**\n"
    "Orders placed before 2 pm leave the same day.\n\n"
    "- UK standard: 3–5 working days.\n"
    "- UK express: next working day."
)


@pytest.fixture
def slack_api() -> Iterator[RecordingSlackApi]:
    api = RecordingSlackApi().start()
    yield api
    api.stop()


def bot(api: RecordingSlackApi) -> ShopSlackBot:
    return ShopSlackBot("xoxb-test", None, None, None, api.url)


def test_a_markdown_link_becomes_a_slack_link_with_its_title() -> None:
    text = "Read more: [How long does delivery take?](https://shop.test/help/delivery-times)"
    assert to_mrkdwn(text) == (
        "Read more: <https://shop.test/help/delivery-times|How long does delivery take?>"
    )
    assert to_mrkdwn("[Sizes \\[EU\\] | UK](https://x.test/a?b=1&c=2)") == (
        "<https://x.test/a?b=1&c=2|Sizes [EU] ¦ UK>"
    )


def test_bold_and_bullets_become_mrkdwn_on_their_own_lines() -> None:
    assert to_mrkdwn(ARTICLE) == (
        "*How long does delivery take?*\n"
        "Orders placed before 2 pm leave the same day.\n\n"
        "• UK standard: 3–5 working days.\n"
        "• UK express: next working day."
    )
    assert to_mrkdwn("Steps:\n1. Open the order\n2. Choose Return") == (
        "Steps:\n1. Open the order\n2. Choose Return"
    )


def test_nothing_in_a_text_becomes_a_mention_or_a_link_it_did_not_ask_for() -> None:
    assert to_mrkdwn("Hi <!channel> <https://evil.test|bank>") == (
        "Hi &lt;!channel&gt; &lt;https://evil.test|bank&gt;"
    )
    assert to_mrkdwn("[click](javascript:alert(1))") == "[click](javascript:alert(1))"
    assert to_mrkdwn("Welcome to Hearth & Home, &lt;") == "Welcome to Hearth & Home, &amp;lt;"


def test_an_article_is_posted_as_one_mrkdwn_message(slack_api: RecordingSlackApi) -> None:
    asyncio.run(bot(slack_api).send_text_message("D1", ARTICLE))
    assert slack_api.posted("D1") == [to_mrkdwn(ARTICLE)]


def test_buttons_come_with_the_text_as_mrkdwn(slack_api: RecordingSlackApi) -> None:
    buttons = [{"title": "My parcel is late", "payload": '/ask_help{"article":"late-parcel"}'}]
    asyncio.run(bot(slack_api).send_text_with_buttons("D2", "**Related** articles:", buttons))
    [call] = [c for c in slack_api.calls if c.method == "chat.postMessage"]
    assert call.args["text"] == "*Related* articles:"
    section, actions = call.args["blocks"]
    assert section["text"] == {"type": "mrkdwn", "text": "*Related* articles:"}
    [button] = actions["elements"]
    assert button["value"] == '/ask_help{"article":"late-parcel"}'
    assert button["text"] == {"type": "plain_text", "text": "My parcel is late"}
