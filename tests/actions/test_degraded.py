"""With PostgreSQL unreachable every journey still answers, says where it matters that it
cannot check right now (never as if there were nothing to find), and never raises."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rasa_sdk import Action

from actions import personalization_client
from actions.billing import ActionBillingHelp
from actions.handoff import ActionHandoff
from actions.help_articles import ActionSuggestArticles
from actions.identify import ActionIdentifyCustomer
from actions.orders import ActionOrderStatus
from actions.privacy import ActionExportData, ActionOptOut
from actions.recommendations import ActionRecommendProducts
from actions.returns import ActionSubmitReturn
from actions.yes_no import ActionAnswerYesNo
from personalization.demo_data import demo_order_id
from tests.actions.conftest import journey_tracker, responses, run_action

pytestmark = pytest.mark.usefixtures("store_down")


def alices_order(number: int) -> Callable[[], str]:
    """Alice's real order number, worked out when the test runs (it depends on PSEUDONYM_KEY)."""
    return lambda: demo_order_id("cust-0001", number)


CASES: list[tuple[Action, dict[str, Any], str]] = [
    (ActionOrderStatus(), {"order_number": alices_order(14)}, "utter_store_unavailable_orders"),
    (ActionSubmitReturn(), {"order_number": alices_order(12)}, "utter_store_unavailable_orders"),
    (ActionBillingHelp(), {}, "utter_billing_help"),
    (ActionRecommendProducts(), {}, "utter_recommendations_unavailable"),
    (ActionSuggestArticles(), {}, "utter_store_unavailable_articles"),
    (ActionHandoff(), {}, "utter_handoff_unavailable"),
    (ActionExportData(), {}, "utter_privacy_unavailable"),
    (ActionOptOut(), {}, "utter_privacy_unavailable"),
    (ActionAnswerYesNo(), {"pending_question": "erase"}, "utter_erasure_not_recorded"),
    (
        ActionIdentifyCustomer(),
        {"who": "anonymous", "identity": "a@b.example", "verification_order": "536365"},
        "utter_identify_unavailable",
    ),
]


@pytest.mark.parametrize(
    ("action", "slots", "expected"), CASES, ids=[type(c[0]).__name__ for c in CASES]
)
def test_every_journey_degrades_to_a_generic_answer(
    action: Action, slots: dict[str, Any], expected: str, domain: dict[str, Any]
) -> None:
    slots = {name: value() if callable(value) else value for name, value in slots.items()}
    tracker = journey_tracker("can you help?", "affirm", **slots)
    result = run_action(action, tracker, domain)
    assert expected in responses(result)


def test_a_sign_in_without_the_store_is_not_counted_as_a_failure(domain: dict[str, Any]) -> None:
    """The visitor is told to come back later, not that their details are wrong."""
    tracker = journey_tracker(
        "a@b.example", "inform", who="anonymous", identity="a@b.example", verification_order="1"
    )
    result = run_action(ActionIdentifyCustomer(), tracker, domain)
    assert responses(result) == ["utter_identify_unavailable"]
    assert {e["name"]: e["value"] for e in result.events} == {
        "identity": None,
        "verification_order": None,
    }


def test_a_sign_in_without_a_configured_store_degrades_too(
    domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    personalization_client.reset()
    tracker = journey_tracker(
        "a@b.example", "inform", who="anonymous", identity="a@b.example", verification_order="1"
    )
    result = run_action(ActionIdentifyCustomer(), tracker, domain)
    assert responses(result) == ["utter_identify_unavailable"]
