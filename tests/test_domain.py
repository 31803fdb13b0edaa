"""Consistency of domain.yml with the data and the action code.

`rasa data validate` warns about responses that no story or rule uses, but some responses
are only ever sent by custom actions or Rasa's default actions, and the validator cannot see
those. This test closes the gap: every response is reachable, and every response an action
names exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.fast

# Responses Rasa's own default actions send (two-stage fallback and default fallback).
SENT_BY_RASA_DEFAULT_ACTIONS = {"utter_ask_rephrase", "utter_default"}


def domain_responses() -> set[str]:
    return set(yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())["responses"])


def responses_in_stories_and_rules() -> set[str]:
    used = set()
    for path in (PROJECT_ROOT / "data").rglob("*.yml"):
        used |= set(re.findall(r"action:\s*(utter_\w+)", path.read_text()))
    return used


def responses_named_by_actions() -> set[str]:
    named = set()
    for path in Path(PROJECT_ROOT / "actions").rglob("*.py"):
        named |= set(re.findall(r"\"(utter_\w+)\"", path.read_text()))
    return named


def test_every_response_an_action_sends_is_in_the_domain() -> None:
    assert responses_named_by_actions() <= domain_responses()


def questions_of_forms() -> set[str]:
    """Forms ask for each required slot with `utter_ask_<slot>` unless an action does."""
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    return {
        f"utter_ask_{slot}"
        for form in (domain.get("forms") or {}).values()
        for slot in form["required_slots"]
    }


def test_every_response_is_used_somewhere() -> None:
    reachable = (
        questions_of_forms()
        | responses_in_stories_and_rules()
        | responses_named_by_actions()
        | SENT_BY_RASA_DEFAULT_ACTIONS
    )
    assert domain_responses() - reachable == set()


def test_every_response_used_in_stories_and_rules_exists() -> None:
    assert responses_in_stories_and_rules() <= domain_responses()


def domain() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


def test_who_the_customer_is_can_only_be_set_by_actions() -> None:
    """No message fills an identity or consent slot: their only mapping is custom (actions)."""
    from actions.session import PROFILE_SLOTS

    slots = domain()["slots"]
    for name in PROFILE_SLOTS:
        assert name in slots, name
        mappings = slots[name].get("mappings") or []
        assert [m["type"] for m in mappings] == ["custom"], name
        assert slots[name].get("influence_conversation") is False, name


def test_the_proof_is_the_first_slot_so_later_extractions_see_it() -> None:
    assert next(iter(domain()["slots"])) == "identity_proof"
    assert domain()["slots"]["identity_proof"]["type"] == "any"


def test_unknown_consent_starts_as_no_consent() -> None:
    slot = domain()["slots"]["personalization_allowed"]
    assert slot.get("initial_value") is None, "personal only once the store said yes"
    assert domain()["slots"]["customer_known"].get("initial_value") is False


def test_the_counter_of_the_old_sign_in_is_gone() -> None:
    assert "identify_attempts" not in domain()["slots"]


def test_what_a_shared_channel_is_told_holds_no_personal_data() -> None:
    responses = domain()["responses"]
    for name in ("utter_continue_in_direct_message", "utter_identify_unavailable"):
        for variant in responses[name]:
            assert "{" not in variant["text"], f"{name} fills in nothing about the customer"
