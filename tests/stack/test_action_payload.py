"""stack/action_payload.py: an action call's body is the JSON Rasa would send, without the
responses, with the domain encoded once per loaded model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from stack import action_payload
from stack.action_payload import EncodedDomain, dumps, encoded_domain

pytestmark = pytest.mark.fast

DOMAIN = {
    "intents": ["greet", "ask_order"],
    "slots": {"mood": {"type": "float", "mappings": [{"type": "custom"}]}},
    "responses": {"utter_greet": [{"text": "Hello «there» ✓"}]},
    "forms": {"order_form": {"required_slots": ["order_number"]}},
}


@pytest.fixture
def installed() -> Iterator[None]:
    action_payload.install()
    yield
    action_payload.uninstall()


def stock_body(action: RemoteAction, tracker: Any, domain: Domain) -> dict[str, Any]:
    action_payload.uninstall()
    try:
        return action._action_call_format(tracker, domain)
    finally:
        action_payload.install()


def test_the_body_is_rasas_without_the_responses(installed: None) -> None:
    domain = Domain.from_dict(DOMAIN)
    tracker = DialogueStateTracker("rest:cust-1+phone", slots=domain.slots)
    action = RemoteAction("action_validate_slot_mappings", EndpointConfig("http://x"))

    sent = json.loads(dumps(action._action_call_format(tracker, domain)))

    expected = stock_body(action, tracker, domain)
    del expected["domain"]["responses"]
    assert sent == json.loads(json.dumps(expected))
    assert sent["domain"]["forms"] == {"order_form": {"required_slots": ["order_number"]}}


def test_the_domain_is_encoded_once_per_domain_object() -> None:
    first = Domain.from_dict(DOMAIN)
    assert encoded_domain(first) is encoded_domain(first)
    retrained = Domain.from_dict({**DOMAIN, "intents": ["greet"]})
    assert json.loads(encoded_domain(retrained).text)["intents"] == ["greet"]
    assert encoded_domain(first).text != encoded_domain(retrained).text


def test_selective_domain_still_leaves_the_domain_out(installed: None) -> None:
    domain = Domain.from_dict(DOMAIN)
    config = EndpointConfig("http://x", enable_selective_domain=True)
    body = RemoteAction("action_check_order", config)._action_call_format(
        DialogueStateTracker("s", slots=[]), domain
    )
    assert "domain" not in body
    assert json.loads(dumps(body))["next_action"] == "action_check_order"


def test_any_encoder_gets_the_same_json() -> None:
    encoded = EncodedDomain({"slots": {"a": 1}, "responses": {"utter_x": []}})
    assert json.loads(json.dumps({"domain": encoded})) == {"domain": {"slots": {"a": 1}}}
    assert json.loads(dumps({"domain": encoded})) == {"domain": {"slots": {"a": 1}}}
    assert json.loads(dumps({"x": [1, "é"]})) == {"x": [1, "é"]}


def test_uninstall_restores_rasa() -> None:
    original = RemoteAction._action_call_format
    action_payload.install()
    action_payload.install()
    assert RemoteAction._action_call_format is not original
    action_payload.uninstall()
    assert RemoteAction._action_call_format is original
