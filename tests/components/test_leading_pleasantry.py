"""A greeting or thanks in front of a request leaves the request to be understood."""

from __future__ import annotations

import re
import time

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.leading_pleasantry import (
    PLEASANTRY,
    LeadingPleasantryRemover,
    LeadingPleasantryRestorer,
    split_pleasantry,
)

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("text", "kind", "rest"),
    [
        ("hi, where's my order?", "greet", "where's my order?"),
        ("thanks, and can I return the mug?", "thank", "can I return the mug?"),
        ("Good morning! My card was declined yesterday", "greet", "My card was declined yesterday"),
        ("ok thanks, where is my refund?", "thank", "where is my refund?"),
        ("thank you so much. Any ideas for my kitchen?", "thank", "Any ideas for my kitchen?"),
        ("great - can I change the address too?", "acknowledge", "can I change the address too?"),
    ],
)
def test_the_request_after_a_pleasantry_is_what_is_left(text: str, kind: str, rest: str) -> None:
    assert split_pleasantry(text) == (kind, rest)


@pytest.mark.parametrize(
    "text",
    [
        "thanks!",
        "hi there",
        "ok thanks",
        "hey, good morning!",  # only pleasantries
        "hello, anyone there?",  # too short to be a request of its own
        "cheers and bye",
        "history of my orders please",  # "hi" inside a word
        "hiking boots for my son",
        "thanksgiving gift ideas please",
        "ta-da, it arrived broken",  # "ta" is only a word on its own
    ],
)
def test_a_message_that_is_only_a_pleasantry_or_unsure_is_left_whole(text: str) -> None:
    kind, rest = split_pleasantry(text)
    assert kind is None and rest == text


def test_the_component_changes_the_text_and_says_what_it_set_aside() -> None:
    remover = LeadingPleasantryRemover()
    messages = [
        Message({TEXT: "hi, where's my order? it's the candles"}),
        Message({TEXT: "where's my order?"}),
        Message({TEXT: '/inform{"order_number": "536365"}'}),
    ]
    remover.process(messages)
    assert messages[0].get(TEXT) == "where's my order? it's the candles"
    assert messages[0].get(PLEASANTRY) == "greet"
    assert messages[0].as_dict(only_output_properties=True)[PLEASANTRY] == "greet"
    assert messages[1].get(TEXT) == "where's my order?" and messages[1].get(PLEASANTRY) is None
    assert messages[2].get(TEXT).startswith("/inform")


def test_the_whole_text_comes_back_with_entities_where_they_are_in_it() -> None:
    original = "hi,   where's my order? it's the candles"
    message = Message({TEXT: original})
    LeadingPleasantryRemover().process([message])
    request = message.get(TEXT)
    start = request.index("candles")
    message.set(
        ENTITIES, [{"entity": "product", "value": "candle", "start": start, "end": start + 7}]
    )
    LeadingPleasantryRestorer().process([message])
    assert message.get(TEXT) == original
    entity = message.get(ENTITIES)[0]
    assert original[entity["start"] : entity["end"]] == "candles"


def test_a_long_hostile_message_is_split_in_linear_time() -> None:
    for text in ("hi " * 5000, "thanks, " * 3000, "ok" + " ok," * 5000 + " x"):
        started = time.monotonic()
        split_pleasantry(text)
        assert time.monotonic() - started < 0.1, re.escape(text[:20])
