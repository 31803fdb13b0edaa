"""Leaving a form: stopped, paused by thanks and picked up again, or left for another journey."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.billing import ActionBillingHelp
from actions.form_interruptions import ActionOfferResume, ActionStopForm, ActionStrayAnswer
from actions.yes_no import ActionAnswerYesNo
from tests.actions.conftest import run_action, tracker_data

pytestmark = pytest.mark.fast


def in_return_form(intent: str, text: str, deactivated: bool = True, **slots: Any) -> Tracker:
    """Alice in the return form, her order known, as Rasa sends the tracker after the rules
    have deactivated the form (or, with ``deactivated=False``, while it is still active)."""
    data = tracker_data("journey_customer_mid_conversation")
    data["slots"].update({"order_number": "DEMO-0001-03", "requested_slot": "return_item"})
    data["slots"].update(slots)
    data["events"] += [
        {"event": "active_loop", "timestamp": 1732377602.0, "name": "return_form"},
        {
            "event": "user",
            "timestamp": 1732377603.0,
            "text": text,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []},
        },
    ]
    data["latest_message"] = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": [],
    }
    if deactivated:
        data["events"].append({"event": "active_loop", "timestamp": 1732377603.5, "name": None})
        data["slots"]["requested_slot"] = None
    else:
        data["active_loop"] = {"name": "return_form"}
    return Tracker.from_dict(data)


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(result: Any, domain: dict[str, Any]) -> list[str]:
    """The replies as the customer reads them: the response's first text with its values."""
    said = []
    for message in result.messages:
        template = domain["responses"][message["response"]][0]["text"]
        said.append(template.format(**{k: v for k, v in message.items() if isinstance(v, str)}))
    return said


def test_stop_names_the_task_and_forgets_the_answers(domain: dict[str, Any]) -> None:
    result = run_action(ActionStopForm(), in_return_form("stop", "forget it"), domain)
    assert texts(result, domain) == [
        "Okay, I've stopped booking your return. Is there anything else I can help with?"
    ]
    cleared = slots(result.events)
    assert cleared["order_number"] is None and cleared["return_item"] is None


def test_thanks_in_a_form_offers_to_finish_it_instead_of_asking_again(
    domain: dict[str, Any],
) -> None:
    result = run_action(ActionOfferResume(), in_return_form("thank", "ok thanks"), domain)
    assert texts(result, domain) == ["You're welcome! Shall we finish booking your return?"]
    assert [b["title"] for b in result.messages[0]["buttons"]] == [
        "Yes, carry on",
        "No, that's all",
    ]
    assert "Which item" not in " ".join(texts(result, domain))
    assert slots(result.events) == {"pending_question": "resume", "paused_form": "return_form"}


def test_yes_picks_the_form_up_with_its_answers(domain: dict[str, Any]) -> None:
    tracker = in_return_form("affirm", "yes", pending_question="resume", paused_form="return_form")
    result = run_action(ActionAnswerYesNo(), tracker, domain)
    assert result.messages == []
    assert {"event": "followup", "name": "return_form", "timestamp": None} in [
        {**e, "timestamp": None} for e in result.events
    ]
    assert "order_number" not in slots(result.events)  # kept: the form goes on from there


def test_no_leaves_it_and_forgets_the_answers(domain: dict[str, Any]) -> None:
    tracker = in_return_form("deny", "no", pending_question="resume", paused_form="return_form")
    result = run_action(ActionAnswerYesNo(), tracker, domain)
    assert texts(result, domain) == [
        "Alright, I'll leave it there. Just ask if you need anything else."
    ]
    assert slots(result.events)["order_number"] is None
    assert not any(e.get("event") == "followup" for e in result.events)


def test_a_new_journey_in_a_form_ends_the_form(domain: dict[str, Any]) -> None:
    tracker = in_return_form("billing_problem", "I was charged twice", deactivated=False)
    result = run_action(ActionBillingHelp(), tracker, domain)
    assert result.messages, "the billing question is answered"
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in result.events
    ]
    assert slots(result.events)["order_number"] is None


def stray(text: str, entities: list[dict[str, Any]], **slots: Any) -> Tracker:
    data = tracker_data("journey_customer_mid_conversation")
    data["slots"].update(slots)
    data["latest_message"] = {
        "text": text,
        "intent": {"name": "inform", "confidence": 0.9},
        "entities": entities,
    }
    return Tracker.from_dict(data)


def followups(events: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in events if e.get("event") == "followup"]


def test_an_order_clicked_after_ok_thanks_picks_the_paused_form_up(domain: dict[str, Any]) -> None:
    tracker = stray(
        '/inform{"order_number":"DEMO-0001-03"}',
        [{"entity": "order_number", "value": "DEMO-0001-03"}],
        pending_question="resume",
        paused_form="return_form",
    )
    result = run_action(ActionStrayAnswer(), tracker, domain)
    assert followups(result.events) == ["return_form"] and result.messages == []
    assert slots(result.events) == {"pending_question": None, "paused_form": None}


def test_an_order_number_on_its_own_is_looked_up(domain: dict[str, Any]) -> None:
    tracker = stray("DEMO-0001-03", [{"entity": "order_number", "value": "DEMO-0001-03"}])
    assert followups(run_action(ActionStrayAnswer(), tracker, domain).events) == [
        "order_status_form"
    ]


def test_a_date_on_its_own_looks_the_order_up(domain: dict[str, Any]) -> None:
    tracker = stray("and the one from 15 september?", [{"entity": "date", "value": "15 september"}])
    assert followups(run_action(ActionStrayAnswer(), tracker, domain).events) == [
        "order_status_form"
    ]


def test_any_other_stray_answer_gets_anything_else(domain: dict[str, Any]) -> None:
    result = run_action(ActionStrayAnswer(), stray("blue", []), domain)
    assert texts(result, domain) == ["No problem. Is there anything else I can help with?"]
    assert followups(result.events) == []


def test_never_mind_to_was_this_helpful_is_not_a_thumbs_down(domain: dict[str, Any]) -> None:
    tracker = stray("never mind", [], pending_question="feedback")
    tracker.latest_message["intent"] = {"name": "stop", "confidence": 0.9}
    result = run_action(ActionAnswerYesNo(), tracker, domain)
    assert [m["response"] for m in result.messages] == ["utter_anything_else"]
    assert slots(result.events) == {"pending_question": None}
