"""The support rules in plain terms: gestures, escalation, parsing what customers type."""

from __future__ import annotations

import pytest

from personalization.support.apology import late_order_gesture
from personalization.support.escalation import (
    decide,
    mood_label,
    mood_offer,
    offer_again_for_mood,
)
from personalization.support.identity import normalise_identifier
from personalization.support.orders import normalise_order_number
from personalization.support.preferences import interest_category, parse_budget
from personalization.support.tickets import priority_for, promised_wait, summarise

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("days", "tier", "mood", "level"),
    [
        (0, "vip", -0.9, "none"),
        (2, "regular", 0.0, "apology"),
        (5, "regular", 0.0, "voucher"),
        (2, "vip", 0.0, "voucher"),
        (2, "regular", -0.6, "voucher"),
        (5, "vip", 0.0, "priority"),
        (5, "regular", -0.6, "priority"),
    ],
)
def test_late_order_gesture_grows_with_delay_value_and_mood(
    days: int, tier: str, mood: float, level: str
) -> None:
    assert late_order_gesture(days, 80.0, tier, mood).level == level


def test_vouchers_are_a_share_of_the_order_within_limits() -> None:
    assert late_order_gesture(5, 80.0, "regular", 0.0).voucher == 8.0
    assert late_order_gesture(5, 10.0, "regular", 0.0).voucher == 5.0  # the minimum
    assert late_order_gesture(5, 900.0, "vip", 0.0).voucher == 50.0  # the maximum


def test_escalation_rules_in_order_of_precedence() -> None:
    calm = dict(problem=True, tier="regular", mood=0.0, trend="steady")
    assert decide(**calm).action == "none"
    assert decide(**{**calm, "mood": -0.5}).reason == "billing_distress"
    assert decide(**{**calm, "mood": -0.5}).action == "offer"
    assert decide(**{**calm, "tier": "vip"}).reason == "vip_problem"
    assert decide(**{**calm, "mood": -0.3, "trend": "worsening"}).reason == "worsening_mood"
    assert decide(**{**calm, "explicit_request": True}).reason == "customer_request"
    assert decide(**{**calm, "repeated_fallback": True}).action == "handoff"
    assert decide(problem=False, tier="vip", mood=0.0, trend="steady").action == "none"


@pytest.mark.parametrize(
    ("typed", "order_id"),
    [
        ("DEMO-4821-14", "DEMO-4821-14"),
        ("demo 4821 3", "DEMO-4821-03"),
        ("#536365", "536365"),
        ("order c536379", "C536379"),
        ("tomorrow", None),
        ("12345", None),
        ("", None),
    ],
)
def test_order_numbers_are_normalised(typed: str, order_id: str | None) -> None:
    assert normalise_order_number(typed) == order_id


@pytest.mark.parametrize(
    ("typed", "identifier"),
    [
        ("Alice.Martin@Example.com", "alice.martin@example.com"),
        ("cust-0004", "cust-0004"),
        ("CUST 0012", "cust-0012"),
        ("0012", "cust-0012"),
        ("alice at example", None),
    ],
)
def test_identifiers_are_normalised(typed: str, identifier: str | None) -> None:
    assert normalise_identifier(typed) == identifier


def test_interests_and_budgets_from_what_customers_type() -> None:
    assert interest_category("candles") == "Lighting & candles"
    assert interest_category("Kitchen") == "Kitchen"
    assert interest_category("spaceships") is None
    assert parse_budget("under £25") == 25.0
    assert parse_budget("15,50 pounds") == 15.5
    assert parse_budget("cheap please") is None
    assert parse_budget("0") is None


def test_ticket_priority_and_summary() -> None:
    assert priority_for("billing_distress", "regular", -0.7) == "urgent"
    assert priority_for("worsening_mood", "lapsed", -0.3) == "high"
    assert priority_for("customer_request", "vip", 0.0) == "high"
    assert priority_for("customer_request", "regular", 0.0) == "normal"
    assert priority_for("customer_request", "regular", 0.0, keep_close=True) == "high"
    turns = [("customer", "x" * 300)] + [("bot", f"turn {n}") for n in range(8)]
    summary = summarise(turns)
    assert summary.count("\n") == 5 and summary.endswith("bot: turn 7")
    assert summarise([]) == "(no conversation yet)"


def test_an_offer_names_the_journeys_problem() -> None:
    upset = dict(problem=True, tier="regular", mood=-0.5, trend="steady")
    assert decide(**upset, offer_reason="late_order").reason == "late_order"
    assert decide(**upset, offer_reason="complaint").action == "offer"


def test_a_declined_mood_offer_is_repeated_only_after_a_further_fall() -> None:
    assert not offer_again_for_mood(-0.9, "worsening", None), "no earlier offer"
    assert not offer_again_for_mood(-0.5, "worsening", -0.3), "fell by less than REOFFER_DROP"
    assert offer_again_for_mood(-0.6, "worsening", -0.3)
    assert not offer_again_for_mood(-0.6, "improving", -0.3), "already recovering"
    assert not offer_again_for_mood(-0.25, "worsening", 0.1), "not negative enough"


def test_a_falling_mood_earns_an_offer_only_outside_problem_journeys_and_open_questions() -> None:
    falling = {
        "mood": -0.35,
        "trend": "worsening",
        "previous_trend": "steady",
        "offered_at": None,
        "intent": "greet",
        "busy": False,
    }
    assert mood_offer(**falling) == "first"
    assert mood_offer(**{**falling, "previous_trend": "worsening"}) is None, "only as it starts"
    assert mood_offer(**{**falling, "intent": "billing_problem"}) is None, "its journey decides"
    assert mood_offer(**{**falling, "busy": True}) is None, "never over an open question"
    assert mood_offer(**{**falling, "mood": -0.1}) is None, "not low enough yet"
    assert mood_offer(**{**falling, "offered_at": -0.35}) is None, "declined: wait for a fall"
    assert mood_offer(**{**falling, "mood": -0.7, "offered_at": -0.35}) == "again"


def test_mood_labels_and_promised_waits() -> None:
    assert [mood_label(v) for v in (-0.5, 0.0, 0.5)] == ["negative", "neutral", "positive"]
    assert promised_wait("urgent") == promised_wait("high") == "within the hour"
    assert promised_wait("normal") == "within one working day"


def test_a_customer_to_keep_close_earns_one_point_within_the_voucher_rules() -> None:
    from personalization.churn.retention import keep_close

    assert keep_close(0.75, 5) and keep_close(0.6, 4)
    assert not keep_close(0.59, 5) and not keep_close(0.9, 3) and not keep_close(None, 5)
    assert late_order_gesture(2, 80.0, "regular", 0.0, keep_close=True).level == "voucher"
    most = late_order_gesture(5, 80.0, "vip", -0.6, keep_close=True)
    assert most.level == "priority" and most.voucher == 16.0, "capped at three points"
    assert late_order_gesture(0, 80.0, "regular", 0.0, keep_close=True).level == "none"
