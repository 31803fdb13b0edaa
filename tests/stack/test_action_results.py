"""The action server's answers are checked as Rasa checks them, with one validator."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from stack import action_results

pytestmark = pytest.mark.fast

GOOD = {
    "events": [{"event": "slot", "name": "mood", "value": "upset", "timestamp": None}],
    "responses": [{"response": "utter_greet"}],
}


def test_a_valid_answer_passes_and_a_malformed_one_fails_with_rasas_message() -> None:
    assert action_results.validate_action_result(GOOD)
    with pytest.raises(ValidationError) as raised:
        action_results.validate_action_result({"events": [{"event": "slot", "name": 3}]})
    assert "Failed to validate Action server response" in raised.value.message


def test_install_replaces_rasas_per_call_schema_check() -> None:
    original = RemoteAction._validate_action_result
    try:
        action_results.install()
        action = RemoteAction("action_anything", None)
        assert action._validate_action_result(GOOD)
        with pytest.raises(ValidationError):
            action._validate_action_result({"responses": "not a list"})
        assert action_results._action_result_validator.cache_info().currsize == 1
    finally:
        RemoteAction._validate_action_result = original  # type: ignore[method-assign]
        if hasattr(RemoteAction, action_results._MARK):
            delattr(RemoteAction, action_results._MARK)


ANSWERS = [
    GOOD,
    {"events": [], "responses": []},
    {"events": [{"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}}]},
    {"events": [{"event": "active_loop", "name": None}, {"event": "action", "name": "x"}]},
    {"events": [{"event": "bot", "text": "hello", "data": {}, "metadata": {}}]},
    {"events": [{"event": "slot", "name": "mood"}]},  # no value
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"name": "mood", "value": 1}]},  # no event name
    {"events": [{"event": 3}]},
    {"events": [{"event": "slot", "name": "mood", "value": 1, "timestamp": "soon"}]},
    {"events": [{"event": "entities", "entities": [{"entity": "x"}]}]},
    {"events": "not a list"},
    {"events": [["slot"]]},
    {"responses": [{"response": "utter_greet"}], "events": [{"event": "user", "parse_data": 1}]},
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_the_fast_path_accepts_exactly_what_the_full_schema_accepts(answer: dict) -> None:
    full = action_results._action_result_validator().is_valid(answer)
    fast = action_results._fast_path()
    assert fast is not None, "Rasa's schema has the shape the fast path expects"
    assert fast.accepts(answer) == full
    if full:
        assert action_results.validate_action_result(answer)
    else:
        with pytest.raises(ValidationError):
            action_results.validate_action_result(answer)
