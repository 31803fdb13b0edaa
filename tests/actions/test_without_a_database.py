"""Journeys against in-process gateways: what the customer is told when a store is down and
when it says no, without a database. Integration tests elsewhere cover the real stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from actions import personalization_client
from actions.gateways.articles import article_store
from actions.gateways.experiments import experiment_store
from actions.gateways.feedback import feedback_store
from actions.gateways.identity import identity_store
from actions.gateways.orders import order_store
from actions.gateways.profiles import profile_store
from actions.gateways.support import support_store
from actions.handoff import ActionHandoff
from actions.help_articles import ActionSuggestArticles
from actions.identify import ActionIdentifyCustomer
from actions.orders import ActionOrderStatus
from actions.outcome import Outcome
from actions.returns import ActionSubmitReturn
from personalization.auth.sign_in import Outcome as SignIn
from personalization.auth.sign_in import SignInResult
from personalization.support.orders import Order, OrderLine
from tests.actions.conftest import journey_tracker, responses, run_action, slot_events
from tests.actions.fakes import (
    FakeArticles,
    FakeExperiments,
    FakeFeedback,
    FakeIdentity,
    FakeOrders,
    FakeProfiles,
    FakeSupport,
)

pytestmark = pytest.mark.fast

ORDER_ID = "DEMO-0001-14"
SIGN_IN = {
    "who": "anonymous",
    "identity": "alice@example.com",
    "verification_order": ORDER_ID,
}


@dataclass
class Fakes:
    orders: FakeOrders
    identity: FakeIdentity
    profiles: FakeProfiles
    articles: FakeArticles
    support: FakeSupport
    feedback: FakeFeedback
    experiments: FakeExperiments = field(default_factory=FakeExperiments)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    """Every gateway replaced, and the real store door closed: a call reaching it fails."""
    made = Fakes(
        FakeOrders(), FakeIdentity(), FakeProfiles(), FakeArticles(), FakeSupport(), FakeFeedback()
    )

    async def no_store(operation: str, work: Any) -> Outcome[Any]:
        raise AssertionError(f"{operation} reached the real store")

    monkeypatch.setattr(personalization_client, "run", no_store)
    with ExitStack() as stack:
        stack.enter_context(order_store.replaced(made.orders))
        stack.enter_context(experiment_store.replaced(made.experiments))
        stack.enter_context(identity_store.replaced(made.identity))
        stack.enter_context(profile_store.replaced(made.profiles))
        stack.enter_context(article_store.replaced(made.articles))
        stack.enter_context(support_store.replaced(made.support))
        stack.enter_context(feedback_store.replaced(made.feedback))
        yield made


def an_order(status: str = "delivered") -> Order:
    today = date.today()
    line = OrderLine(1, "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 1, 2.95)
    return Order(ORDER_ID, "cust-0001", status, today - timedelta(days=5), today, 2.95, (line,))


# --- order status ---------------------------------------------------------------------------


def test_order_status_says_the_order_system_is_unreachable(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    result = run_action(ActionOrderStatus(), journey_tracker(order_number=ORDER_ID), domain)
    assert responses(result) == ["utter_store_unavailable_orders"]
    assert fakes.orders.asked == [(ORDER_ID, "cust-0001")]


def test_an_order_that_is_not_theirs_is_not_found_not_unavailable(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    line = OrderLine(1, "D101", "SCENTED CANDLE FIG AND CASSIS", 1, 6.5)
    hers = Order("DEMO-0001-13", "cust-0001", "delivered", date(2026, 11, 2), None, 6.5, (line,))
    fakes.orders.history = [hers]  # hers, but not the number asked about
    result = run_action(ActionOrderStatus(), journey_tracker(order_number=ORDER_ID), domain)
    assert responses(result) == ["utter_order_not_found"]
    [button] = result.messages[0]["buttons"]
    assert "DEMO-0001-13" in button["payload"]
    assert (
        button["title"].startswith("2 Nov") and "Scented Candle Fig And Cassis" in button["title"]
    )


def test_an_order_found_is_answered(fakes: Fakes, domain: dict[str, Any]) -> None:
    fakes.orders.found = Outcome.success(an_order())
    result = run_action(ActionOrderStatus(), journey_tracker(order_number=ORDER_ID), domain)
    assert responses(result)[0] == "utter_order_delivered"


# --- returns ---------------------------------------------------------------------------------


def test_a_return_the_store_could_not_book_is_said_to_be_not_booked(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    fakes.orders.found = Outcome.success(an_order())
    result = run_action(ActionSubmitReturn(), journey_tracker(order_number=ORDER_ID), domain)
    assert responses(result) == ["utter_store_unavailable_returns"]


# --- help articles ---------------------------------------------------------------------------


def test_help_centre_down_is_said_and_a_person_offered(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    result = run_action(ActionSuggestArticles(), journey_tracker("how do I return?"), domain)
    assert responses(result) == ["utter_store_unavailable_articles", "utter_offer_human"]


def test_no_relevant_article_is_said_as_such(fakes: Fakes, domain: dict[str, Any]) -> None:
    fakes.articles.suggestion = Outcome.refused("no relevant article")
    result = run_action(ActionSuggestArticles(), journey_tracker("qwerty"), domain)
    assert responses(result) == ["utter_no_article", "utter_offer_human"]


# --- hand-off --------------------------------------------------------------------------------


def test_a_ticket_that_cannot_be_opened_gives_other_ways_to_reach_us(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    before = (
        REGISTRY.get_sample_value("shopbot_handoffs_total", {"reason": "customer_request"}) or 0
    )
    result = run_action(ActionHandoff(), journey_tracker("a person please"), domain)
    assert responses(result) == ["utter_handoff_unavailable"]
    assert (
        REGISTRY.get_sample_value("shopbot_handoffs_total", {"reason": "customer_request"})
        == before + 1
    ), "counted: the customer asked for a person, reached or not"


# --- sign-in ---------------------------------------------------------------------------------


def test_a_sign_in_the_store_cannot_check_asks_to_try_again(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker(ORDER_ID, "inform", **SIGN_IN)
    result = run_action(ActionIdentifyCustomer(), tracker, domain)
    assert responses(result) == ["utter_identify_unavailable"]
    assert slot_events(result) == {"identity": None, "verification_order": None}


def test_a_right_answer_whose_profile_cannot_be_read_is_not_called_wrong(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    fakes.identity.attempt = Outcome.success(SignInResult(SignIn.SUCCESS, "cust-0001"))
    tracker = journey_tracker(ORDER_ID, "inform", **SIGN_IN)
    result = run_action(ActionIdentifyCustomer(), tracker, domain)
    assert responses(result) == ["utter_identify_unavailable"]
    assert fakes.identity.proofs == []  # not signed in: nothing to prove


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        (SignInResult(SignIn.FAILURE), "utter_identify_failed"),
        (SignInResult(SignIn.LOCKED), "utter_identify_locked"),
    ],
)
def test_only_a_real_wrong_answer_is_a_failed_sign_in(
    fakes: Fakes, domain: dict[str, Any], attempt: SignInResult, expected: str
) -> None:
    fakes.identity.attempt = Outcome.success(attempt)
    tracker = journey_tracker(ORDER_ID, "inform", **SIGN_IN)
    assert responses(run_action(ActionIdentifyCustomer(), tracker, domain)) == [expected]
