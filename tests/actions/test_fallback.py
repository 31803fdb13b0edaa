from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY
from rasa_sdk import Tracker

from actions.fallback import (
    INTENT_DESCRIPTIONS,
    ActionAskAffirmation,
    ActionCoreFallback,
    intent_to_confirm,
)
from tests.actions.conftest import load_tracker, run_action

pytestmark = pytest.mark.fast


def test_every_domain_intent_has_a_customer_facing_description(domain: dict[str, Any]) -> None:
    assert set(domain["intents"]) <= set(INTENT_DESCRIPTIONS)


def test_the_best_real_intent_is_confirmed_in_plain_words(domain: dict[str, Any]) -> None:
    result = run_action(ActionAskAffirmation(), load_tracker("fallback_after_gibberish"), domain)
    assert len(result.messages) == 1
    message = result.messages[0]
    assert message["response"] == "utter_ask_affirmation"
    assert message["intent_description"] == "ask whether you're talking to a bot"
    assert message["buttons"] == [
        {"title": "Yes", "payload": "/bot_challenge"},
        {"title": "No", "payload": "/out_of_scope"},
    ]
    assert result.events == []


def test_without_any_ranking_the_user_is_asked_to_rephrase(domain: dict[str, Any]) -> None:
    tracker = Tracker.from_dict(
        {
            "sender_id": "visitor-1",
            "slots": {},
            "latest_message": {"intent": {"name": "nlu_fallback", "confidence": 0.55}},
            "events": [],
        }
    )
    result = run_action(ActionAskAffirmation(), tracker, domain)
    assert [m["response"] for m in result.messages] == ["utter_ask_rephrase"]


def test_intent_to_confirm_skips_the_fallback_intent() -> None:
    message = {
        "intent": {"name": "nlu_fallback"},
        "intent_ranking": [{"name": "nlu_fallback"}, {"name": "greet"}, {"name": "thank"}],
    }
    assert intent_to_confirm(message) == "greet"
    assert intent_to_confirm({"intent": {"name": "thank"}}) == "thank"


def test_out_of_scope_is_never_offered_as_yes_because_rasa_reads_it_as_no() -> None:
    message = {
        "intent": {"name": "nlu_fallback"},
        "intent_ranking": [{"name": "nlu_fallback"}, {"name": "out_of_scope"}, {"name": "greet"}],
    }
    assert intent_to_confirm(message) == "greet"
    assert intent_to_confirm({"intent": {"name": "out_of_scope"}}) is None


def test_the_yes_button_keeps_the_entities_rasa_already_found(domain: dict[str, Any]) -> None:
    from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
    from rasa.shared.nlu.training_data.message import Message

    tracker = Tracker.from_dict(
        {
            "sender_id": "cust-0001",
            "slots": {},
            "latest_message": {
                "text": "what about the one from last week",
                "intent": {"name": "nlu_fallback", "confidence": 0.55},
                "intent_ranking": [
                    {"name": "nlu_fallback", "confidence": 0.55},
                    {"name": "order_status", "confidence": 0.49},
                ],
                "entities": [{"entity": "date", "value": "last week", "start": 24, "end": 33}],
            },
            "events": [],
        }
    )
    result = run_action(ActionAskAffirmation(), tracker, domain)
    yes = result.messages[0]["buttons"][0]["payload"]
    [clicked] = RegexMessageHandler().process([Message(data={"text": yes})])
    assert clicked.get("intent")["name"] == "order_status"
    assert [(e["entity"], e["value"]) for e in clicked.get("entities")] == [("date", "last week")]


def test_each_message_not_understood_is_counted_by_stage(domain: dict[str, Any]) -> None:
    def count(stage: str) -> float:
        return REGISTRY.get_sample_value("shopbot_fallbacks_total", {"stage": stage}) or 0

    first, next_step = count("first"), count("next_step")
    run_action(ActionAskAffirmation(), load_tracker("fallback_after_gibberish"), domain)
    run_action(ActionCoreFallback(), load_tracker("fallback_after_gibberish"), domain)
    assert (count("first"), count("next_step")) == (first + 1, next_step + 1)
