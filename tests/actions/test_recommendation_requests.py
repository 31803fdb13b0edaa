"""Recommendations that honour what the customer asked for, and refinements of the list just
shown, against an in-process shop (no database): the reply as the customer reads it, and the
buttons under it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import personalization_client
from actions.gateways.recommendations import recommendation_store
from actions.outcome import Outcome
from actions.recommendations import (
    ACTION,
    ANY_INTEREST,
    NO_BUDGET,
    REQUEST_SLOT,
    ActionRecommendProducts,
    ValidateOnboardingForm,
)
from personalization.demo_data import DEMO_PRODUCTS
from tests.actions.conftest import (
    ActionResult,
    journey_tracker,
    responses,
    run_action,
    slot_events,
)
from tests.actions.fakes import FakeRecommendations

CATALOGUE = [
    {"stock_code": code, "description": description, "category": category, "unit_price": price}
    for code, description, category, price in DEMO_PRODUCTS
]
BY_CODE = {item["stock_code"]: item for item in CATALOGUE}
FINN = {"customer_name": "Finn", "customer_known": True}
CHLOE = {"customer_name": "Chloé", "customer_known": True}


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRecommendations]:
    """The demo catalogue in memory; the real store door closed, so a call reaching it fails."""

    async def no_store(operation: str, work: Any) -> Outcome[Any]:
        raise AssertionError(f"{operation} reached the real store")

    monkeypatch.setattr(personalization_client, "run", no_store)
    fake = FakeRecommendations(catalogue=list(CATALOGUE))
    with recommendation_store.replaced(fake):
        yield fake


def said(result: ActionResult, domain: dict[str, Any], slots: dict[str, Any]) -> str:
    """The first message as the customer reads it: the response variant whose conditions
    hold, filled in with the message's values and the slots."""
    message = result.messages[0]
    for variant in domain["responses"][message["response"]]:
        conditions = variant.get("condition") or []
        if all(slots.get(c["name"]) == c["value"] for c in conditions):
            values = {k: v for k, v in message.items() if isinstance(v, str)}
            return variant["text"].format(**{**slots, **values})
    raise AssertionError(f"no variant of {message['response']} applies")


def picks(result: ActionResult) -> list[dict[str, Any]]:
    """The products behind the buttons, checked against the price each button shows."""
    found = []
    for button in result.messages[0]["buttons"]:
        code = re.search(r'"product":"([^"]+)"', button["payload"]).group(1)  # type: ignore[union-attr]
        item = BY_CODE[code]
        assert button["title"].endswith(f"(£{item['unit_price']:.2f})")
        found.append(item)
    return found


def ask(
    text: str,
    intent: str = "ask_recommendation",
    entities: list[dict[str, Any]] | None = None,
    **slots: Any,
) -> Tracker:
    return journey_tracker(text, intent, entities, **{**FINN, **slots})


def after_list(
    text: str,
    intent: str,
    before: ActionResult,
    entities: list[dict[str, Any]] | None = None,
    turns_ago: int = 1,
    **slots: Any,
) -> Tracker:
    """The next message after the list ``before`` showed, ``turns_ago`` customer messages
    after it (1: straight after)."""
    shown = slot_events(before)
    tracker = ask(text, intent, entities, **{**shown, **slots})
    latest = tracker.events.pop()
    tracker.events += [
        {"event": "action", "name": ACTION},
        {"event": "bot", "text": "Here are some picks"},
    ]
    for n in range(turns_ago - 1):
        tracker.events += [
            {"event": "user", "text": f"hmm {n}", "parse_data": {"intent": {"name": "greet"}}},
            {"event": "bot", "text": "Hello!"},
        ]
    tracker.events.append(latest)
    return tracker


def run(tracker: Tracker, domain: dict[str, Any]) -> ActionResult:
    return run_action(ActionRecommendProducts(), tracker, domain)


def test_a_gift_for_mum_under_15_pounds_keeps_the_budget_and_says_so(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    result = run(ask("gift for my mum under 15 pounds"), domain)
    assert said(result, domain, FINN) == "Finn, here are gift ideas for your mum under £15:"
    shown = picks(result)
    assert len(shown) == 4 and all(item["unit_price"] < 15 for item in shown)
    slots = slot_events(result)
    assert slots["shown_products"] == [item["stock_code"] for item in shown]
    assert slots[REQUEST_SLOT]["budget"] == {"kind": "under", "low": None, "high": 15.0}
    assert slots[REQUEST_SLOT]["recipient"] == "mum"
    assert shop.recorded == [("cust-0001", "recommendation_shown", slots["shown_products"])]


def test_something_for_the_kitchen_right_after_refines_the_list(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(ask("gift for my mum under 15 pounds"), domain)
    kitchen = run(
        after_list(
            "something for the kitchen",
            "inform",
            first,
            entities=[{"entity": "product", "value": "kitchen"}],
        ),
        domain,
    )
    assert said(kitchen, domain, FINN) == (
        "Finn, here are kitchen gift ideas for your mum under £15:"
    )
    shown = picks(kitchen)
    assert shown and all(i["category"] == "Kitchen" and i["unit_price"] < 15 for i in shown)


def test_cheaper_please_lowers_the_prices(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(ask("gift for my mum"), domain)
    before = sorted(item["unit_price"] for item in picks(first))
    cheaper = run(after_list("cheaper please", "refine_recommendation", first), domain)
    limit = before[1]  # the lower middle of the four shown
    assert said(cheaper, domain, FINN) == (
        f"Finn, here are gift ideas for your mum under £{limit:.2f}:"
    )
    assert all(item["unit_price"] < limit for item in picks(cheaper))


def test_more_like_the_second_one_stays_in_its_category(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(ask("a housewarming gift"), domain)
    second = picks(first)[1]
    like = run(after_list("more like the second one", "refine_recommendation", first), domain)
    name = second["description"].title()
    assert said(like, domain, FINN) == f"Finn, here are picks like the {name}:"
    shown = picks(like)
    assert shown and {i["category"] for i in shown} == {second["category"]}
    assert second not in shown


def test_not_candles_leaves_out_candles(shop: FakeRecommendations, domain: dict[str, Any]) -> None:
    first = run(ask("candles under £10"), domain)
    assert {i["category"] for i in picks(first)} == {"Lighting & candles"}
    refused = run(
        after_list(
            "not candles",
            "refine_recommendation",
            first,
            entities=[{"entity": "product", "value": "candle"}],
        ),
        domain,
    )
    assert said(refused, domain, FINN) == "Finn, here are picks under £10 without candles:"
    shown = picks(refused)
    assert shown and all(i["category"] != "Lighting & candles" for i in shown)
    assert all(i["unit_price"] < 10 for i in shown)


def test_chloe_asks_for_the_kitchen_under_20_pounds(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    result = run(
        journey_tracker(
            "can you recommend something for my kitchen under 20 pounds",
            "ask_recommendation",
            [{"entity": "amount", "value": "20 pounds"}, {"entity": "product", "value": "kitchen"}],
            customer="cust-0003",
            **CHLOE,
        ),
        domain,
    )
    assert said(result, domain, CHLOE) == "Chloé, here are kitchen picks under £20:"
    shown = picks(result)
    assert shown and all(i["category"] == "Kitchen" and i["unit_price"] < 20 for i in shown)


def test_a_budget_nothing_fits_is_raised_openly(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    raised = run(ask("something for the kitchen under £3"), domain)
    assert responses(raised) == ["utter_recommendations_relaxed_budget"]
    assert said(raised, domain, FINN) == (
        "I couldn't find any kitchen picks under £3, so here are kitchen picks under £6:"
    )
    assert [i["unit_price"] for i in picks(raised)] == [3.25]
    cheapest = run(ask("kitchen bits under £1"), domain)
    assert said(cheapest, domain, FINN) == (
        "I couldn't find any kitchen picks under £1, so here are our cheapest kitchen picks, "
        "from £3.25:"
    )
    assert [i["unit_price"] for i in picks(cheapest)] == [3.25, 8.95, 24.50]


def test_an_empty_category_is_relaxed_openly_and_the_budget_kept(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    result = run(ask("easter things under £5, no decorations"), domain)
    assert said(result, domain, FINN) == (
        "I couldn't find any Easter picks under £5 without decorations, so here are picks "
        "under £5 without decorations from across the shop:"
    )
    shown = picks(result)
    assert shown and all(
        i["unit_price"] < 5 and "DECORATION" not in i["description"] for i in shown
    )


def test_when_nothing_fits_even_relaxed_the_customer_is_asked_to_change_it(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    shop.catalogue = [BY_CODE["D156"]]  # the bread bin, £24.50
    result = run(ask("a candle under £10"), domain)
    assert said(result, domain, FINN) == (
        "Sorry, I couldn't find any candle and lighting picks under £10. "
        "Would a different budget or category do?"
    )
    slots = slot_events(result)
    assert "shown_products" not in slots and slots[REQUEST_SLOT]["category"] == (
        "Lighting & candles"
    )


def test_a_new_request_after_a_list_replaces_the_old_one(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(ask("gift for my mum under 15 pounds"), domain)
    garden = run(after_list("something for the garden", "ask_recommendation", first), domain)
    assert said(garden, domain, FINN) == "Finn, here are garden picks:"
    assert slot_events(garden)[REQUEST_SLOT]["budget"] is None
    refined = run(after_list("what about the garden instead", "ask_recommendation", first), domain)
    assert said(refined, domain, FINN) == "Finn, here are garden gift ideas for your mum under £15:"


def test_a_refinement_long_after_the_list_is_a_new_request(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(ask("gift for my mum under 15 pounds"), domain)
    late = run(after_list("cheaper please", "refine_recommendation", first, turns_ago=4), domain)
    assert responses(late) == ["utter_recommendations"]
    assert slot_events(late)[REQUEST_SLOT] is None
    [(ask_, _)] = shop.asks
    assert ask_.said.states_constraints, "only the first message was a request"


def test_other_ideas_after_a_plain_list(shop: FakeRecommendations, domain: dict[str, Any]) -> None:
    first = run(ask("gift ideas?"), domain)
    assert responses(first) == ["utter_recommendations"]
    assert slot_events(first)[REQUEST_SLOT] is None
    more = run(after_list("anything bigger?", "refine_recommendation", first), domain)
    assert responses(more) == ["utter_recommendations_more"]
    assert not {i["stock_code"] for i in picks(more)} & set(slot_events(first)["shown_products"])


def test_the_web_chat_gets_cards_under_the_stated_request(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker(
        "something for the garden under £10", "ask_recommendation", channel="socketio", **FINN
    )
    result = run(tracker, domain)
    [message] = result.messages
    assert message["response"] == "utter_recommendations_request" and not message.get("buttons")
    cards = message["custom"]["data"]["cards"]
    assert cards and all(BY_CODE[c["id"]]["category"] == "Garden" for c in cards)
    assert all(float(c["price"].lstrip("£")) < 10 for c in cards)


def test_a_visitor_is_told_the_picks_are_popular_ones(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    result = run(
        journey_tracker("kitchen stuff under £15", "ask_recommendation", who="anonymous"), domain
    )
    assert (
        said(result, domain, {}) == "Here are kitchen picks under £15 our customers love right now:"
    )
    assert shop.recorded == [], "nothing recorded about a visitor"


def test_the_store_down_is_said_as_such(shop: FakeRecommendations, domain: dict[str, Any]) -> None:
    shop.down = True
    result = run(ask("gift for my mum under 15 pounds"), domain)
    assert responses(result) == ["utter_recommendations_unavailable"]
    assert "shown_products" not in slot_events(result)


def test_after_the_onboarding_questions_the_first_request_is_answered(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(ask("a present for my mum please", needs_onboarding=True), domain)
    assert first.events == [{"event": "followup", "name": "onboarding_form", "timestamp": None}]
    tracker = ask(
        "£10",
        "inform",
        [{"entity": "amount", "value": "£10"}],
        needs_onboarding=True,
        interest="Kitchen",
        budget=10.0,
    )
    latest = tracker.events.pop()
    asked = {
        "event": "user",
        "text": "a present for my mum please",
        "parse_data": {
            "text": "a present for my mum please",
            "intent": {"name": "ask_recommendation"},
            "entities": [],
        },
    }
    tracker.events += [
        asked,
        {"event": "action", "name": ACTION},
        {"event": "action", "name": "onboarding_form"},
        {"event": "bot", "text": "What are you shopping for?"},
        latest,
        {"event": "action", "name": "onboarding_form"},
    ]
    after = run(tracker, domain)
    # The answers to the two questions are part of the request they followed.
    assert said(after, domain, FINN) == "Finn, here are kitchen gift ideas for your mum under £10:"
    assert all(i["unit_price"] < 10 and i["category"] == "Kitchen" for i in picks(after))
    assert slot_events(after)["needs_onboarding"] is False


def test_a_new_customer_who_says_what_and_how_much_is_not_asked_again(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    tracker = ask(
        "something for my kitchen under 20 pounds",
        entities=[
            {"entity": "amount", "value": "20 pounds"},
            {"entity": "product", "value": "kitchen"},
        ],
        needs_onboarding=True,
    )
    result = run(tracker, domain)
    assert not any(e.get("event") == "followup" for e in result.events)
    assert said(result, domain, FINN) == "Finn, here are kitchen picks under £20:"


def onboarding(text: str, intent: str, asked: str = "interest") -> Tracker:
    return ask(text, intent, needs_onboarding=True, requested_slot=asked)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what's your returns policy?", "ask_help"),
        ("are you a bot?", "bot_challenge"),
        ("thanks, and can I return the mug?", "request_return"),
    ],
)
def test_another_topic_in_the_onboarding_is_left_to_the_rules(
    shop: FakeRecommendations, domain: dict[str, Any], text: str, intent: str
) -> None:
    for asked in ("interest", "budget"):
        tracker = onboarding(text, intent, asked)
        tracker.latest_message["entities"] = [{"entity": "product", "value": "mug"}]
        result = run_action(ValidateOnboardingForm(), tracker, domain)
        assert slot_events(result) == {}, "nothing taken as an answer: the form rejects"
        assert responses(result) == []


def test_not_knowing_skips_the_question_and_asks_no_third(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    interest = run_action(ValidateOnboardingForm(), onboarding("no idea", "dont_know"), domain)
    assert slot_events(interest)["interest"] == ANY_INTEREST and responses(interest) == []
    budget = run_action(
        ValidateOnboardingForm(), onboarding("not sure", "dont_know", "budget"), domain
    )
    assert slot_events(budget)["budget"] == NO_BUDGET and responses(budget) == []


def test_cheaper_when_nothing_is_cheaper_says_so_and_never_raises_the_budget(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(
        ask(
            "any textiles under £15?",
            entities=[{"entity": "amount", "value": "£15"}],
        ),
        domain,
    )
    before = picks(first)
    assert before and all(i["unit_price"] < 15 for i in before)
    cheaper = run(after_list("cheaper please", "refine_recommendation", first), domain)
    assert max(i["unit_price"] for i in picks(cheaper)) < max(i["unit_price"] for i in before)
    again = run(after_list("even cheaper?", "refine_recommendation", cheaper), domain)
    text = said(again, domain, FINN)
    assert text.startswith("There's nothing cheaper in "), text
    after = picks(again)
    assert max(i["unit_price"] for i in after) <= max(i["unit_price"] for i in picks(cheaper))


def test_a_refinement_from_a_new_customer_refines_and_asks_no_onboarding(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(
        ask(
            "a housewarming gift under £30",
            entities=[{"entity": "amount", "value": "£30"}],
            needs_onboarding=True,
        ),
        domain,
    )
    assert picks(first)
    refined = run(
        after_list(
            "not candles",
            "refine_recommendation",
            first,
            needs_onboarding=True,
            entities=[{"entity": "product", "value": "candle"}],
        ),
        domain,
    )
    assert not any(e.get("event") == "followup" for e in refined.events)
    assert all(i["category"] != "Lighting & candles" for i in picks(refined))


def test_nothing_cheaper_never_shows_a_pick_over_the_budget_kept(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(
        ask("gift ideas for a child under £15", entities=[{"entity": "amount", "value": "£15"}]),
        domain,
    )
    like = run(after_list("more like the second one", "refine_recommendation", first), domain)
    cheaper = run(after_list("cheaper please", "refine_recommendation", like), domain)
    assert picks(cheaper) and all(i["unit_price"] < 15 for i in picks(cheaper))


def test_cheaper_with_a_cheaper_pick_already_shown_offers_it_not_nothing(
    shop: FakeRecommendations, domain: dict[str, Any]
) -> None:
    first = run(
        ask(
            "something for the kitchen under £15",
            entities=[
                {"entity": "amount", "value": "£15"},
                {"entity": "product", "value": "kitchen"},
            ],
        ),
        domain,
    )
    before = [i["unit_price"] for i in picks(first)]
    assert len(before) >= 2
    cheaper = run(after_list("cheaper please", "refine_recommendation", first), domain)
    assert not said(cheaper, domain, FINN).startswith("There's nothing cheaper")
    assert max(i["unit_price"] for i in picks(cheaper)) < max(before)
