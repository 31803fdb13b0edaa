"""The order and return forms for a customer who has no order number to hand: what they are
told, which buttons they get, and which slots are set (so the form never falls back).

The orders gateway is an in-process fake holding the customer's orders; it finds orders with
the real OrderFinder (words only). The real store is closed: a call reaching it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import personalization_client
from actions.gateways.experiments import experiment_store
from actions.gateways.orders import order_store
from actions.gateways.support import support_store
from actions.orders import ActionAskOrderNumber, ValidateOrderStatusForm, order_title
from actions.outcome import Outcome
from actions.returns import ActionSubmitReturn, ValidateReturnForm
from personalization.store import Database
from personalization.support.orders import Order, OrderLine
from personalization.support.returns import ReturnDecision, policy_for
from tests.actions.conftest import (
    ActionResult,
    fetch,
    journey_tracker,
    responses,
    run_action,
    slot_events,
)
from tests.actions.fakes import FakeExperiments, FakeOrders, FakeSupport

TODAY = date.today()
VASE = OrderLine(1, "D151", "CERAMIC VASE SPECKLED", 1, 15.5)
CLOCK = OrderLine(2, "D146", "WALL CLOCK RETRO KITCHEN", 1, 17.95)
SHADE = OrderLine(2, "D104", "PAPER LAMPSHADE PALE BLUE", 1, 12.5)
CANDLE = OrderLine(3, "D103", "BEESWAX PILLAR CANDLE SET OF 3", 1, 9.95)
LANTERN = OrderLine(1, "D102", "GLASS STAR LANTERN FROSTED", 1, 8.25)
MUG = OrderLine(2, "D105", "ENAMEL MUG VINTAGE ROSE", 1, 4.25)
TOWEL = OrderLine(1, "D155", "TEA TOWEL PANTRY DESIGN", 2, 3.25)


def order(order_id: str, days_ago: int, status: str, *lines: OrderLine, who: str = "") -> Order:
    renumbered = tuple(
        OrderLine(n, line.stock_code, line.description, line.quantity, line.unit_price)
        for n, line in enumerate(lines, start=1)
    )
    day = TODAY - timedelta(days=days_ago)
    total = sum(line.unit_price for line in lines)
    return Order(order_id, who or "cust-0001", status, day, None, total, renumbered)


# Alice's orders, newest first (as the store gives them).
ALICE = [
    order("DEMO-1212-05", 1, "shipped", LANTERN, MUG),
    order("DEMO-1212-04", 5, "delivered", LANTERN),
    order("DEMO-1212-03", 8, "delivered", TOWEL),
    order("DEMO-1212-02", 12, "delivered", VASE, SHADE, CANDLE),
    order("DEMO-1212-01", 200, "delivered", VASE, CLOCK),
]
# Finn: a parcel on its way (no candles in it), and an older order.
FINN = [
    order("DEMO-3395-10", 2, "shipped", TOWEL, who="cust-0006"),
    order("DEMO-3395-02", 250, "delivered", VASE, who="cust-0006"),
]


@dataclass
class Fakes:
    orders: FakeOrders
    support: FakeSupport
    experiments: FakeExperiments = field(default_factory=FakeExperiments)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    made = Fakes(FakeOrders(history=ALICE + FINN), FakeSupport())

    async def no_store(operation: str, work: Any) -> Outcome[Any]:
        raise AssertionError(f"{operation} reached the real store")

    monkeypatch.setattr(personalization_client, "run", no_store)
    with ExitStack() as stack:
        stack.enter_context(order_store.replaced(made.orders))
        stack.enter_context(experiment_store.replaced(made.experiments))
        stack.enter_context(support_store.replaced(made.support))
        yield made


def in_return_form(text: str, intent: str = "inform", **slots: Any) -> Tracker:
    """Alice answering inside the return form (the order number asked unless said)."""
    slots.setdefault("requested_slot", "order_number")
    return journey_tracker(text, intent, **slots)


def buttons(result: ActionResult, message: int = 0) -> list[dict[str, str]]:
    return result.messages[message].get("buttons") or []


def payload_of(order_id: str, product: str | None = None) -> str:
    if product is None:
        return f'/inform{{"order_number":"{order_id}"}}'
    return f'/inform{{"order_number":"{order_id}","product":"{product}"}}'


# --- asking which order ------------------------------------------------------------------------


def test_a_known_customer_is_asked_with_their_recent_orders_never_for_a_number(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    result = run_action(ActionAskOrderNumber(), journey_tracker(), domain)
    assert responses(result) == ["utter_ask_which_order"]
    titles = [b["title"] for b in buttons(result)]
    assert len(titles) == 4
    yesterday = TODAY - timedelta(days=1)
    day = yesterday.strftime("%-d %b" if yesterday.year == TODAY.year else "%-d %b %Y")
    assert titles[0].startswith(f"{day} · Glass Star Lantern Frosted, Enamel Mug")
    assert all(len(t) <= 60 for t in titles)
    assert [b["payload"] for b in buttons(result)] == [payload_of(o.id) for o in ALICE[:4]]


def test_a_visitor_is_asked_for_the_number(fakes: Fakes, domain: dict[str, Any]) -> None:
    result = run_action(ActionAskOrderNumber(), journey_tracker(who="anonymous"), domain)
    assert responses(result) == ["utter_ask_order_number"]
    assert buttons(result) == []


def test_the_question_is_not_repeated_after_the_orders_that_fit_were_offered(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker("the vase", "inform")
    offered = {"buttons": [{"title": "12 Nov · Vase", "payload": payload_of("DEMO-1212-02")}]}
    tracker.events.append({"event": "bot", "text": "Two of your orders…", "data": offered})
    assert run_action(ActionAskOrderNumber(), tracker, domain).messages == []


def test_after_a_help_answer_with_its_own_buttons_the_question_is_asked_again(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker("how long does delivery take?", "ask_help")
    related = {"buttons": [{"title": "Tracking", "payload": '/ask_help{"article":"tracking"}'}]}
    tracker.events.append({"event": "bot", "text": "Related articles:", "data": related})
    result = run_action(ActionAskOrderNumber(), tracker, domain)
    assert responses(result) == ["utter_ask_which_order"]
    assert all("order_number" in b["payload"] for b in buttons(result))


def test_the_orders_an_item_fits_are_offered_again_when_the_question_is(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    named = run_action(
        ValidateOrderStatusForm(),
        journey_tracker("where's the vase I ordered?", "order_status", requested_slot=None),
        domain,
    )
    choices = slot_events(named)["order_choices"]["buttons"]
    assert ["DEMO-1212-02" in choices[0]["payload"], "DEMO-1212-01" in choices[1]["payload"]] == [
        True,
        True,
    ]
    kept = slot_events(named)["order_choices"]
    later = journey_tracker("are you a bot?", "bot_challenge", order_choices=kept)
    asked = run_action(ActionAskOrderNumber(), later, domain)
    assert responses(asked) == ["utter_ask_which_of_these"]
    assert buttons(asked) == choices
    # Never to anyone else: another customer, or the conversation once signed out.
    stranger = journey_tracker(
        "where is my order", "order_status", customer="cust-0006", order_choices=kept
    )
    assert responses(run_action(ActionAskOrderNumber(), stranger, domain)) != [
        "utter_ask_which_of_these"
    ]


def test_a_long_order_fits_its_button(fakes: Fakes) -> None:
    many = order("DEMO-1212-09", 3, "delivered", CANDLE, SHADE, VASE, CLOCK)
    title = order_title(many, many.lines[2])
    assert len(title) <= 60 and title.endswith(" …")
    assert title.split(" · ")[1].startswith("Ceramic Vase Speckled, Beeswax")


# --- finding the order from the customer's words ------------------------------------------------


def test_an_item_in_two_orders_offers_those_two_with_the_item_named(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker(
        "I'd like to return the speckled vase I bought", "request_return", requested_slot=None
    )
    result = run_action(ValidateReturnForm(), tracker, domain)
    assert responses(result) == ["utter_orders_with_item"]
    message = result.messages[0]
    assert (message["count"], message["item"]) == ("Two", "a speckled vase")
    assert [b["payload"] for b in buttons(result)] == [
        payload_of("DEMO-1212-02", "D151"),
        payload_of("DEMO-1212-01", "D151"),
    ]
    assert all(" · Ceramic Vase Speckled" in b["title"] for b in buttons(result))
    assert "order_number" not in slot_events(result), "the customer picks one"


def test_asked_again_the_item_offers_the_orders_again_and_keeps_the_form(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    result = run_action(ValidateReturnForm(), in_return_form("the ceramic vase"), domain)
    assert responses(result) == ["utter_orders_with_item"]
    filled = slot_events(result)
    assert filled["order_number"] is None, "a slot event: no rejection"
    assert [b["payload"] for b in filled["order_choices"]["buttons"]] == [
        b["payload"] for b in buttons(result)
    ], "kept, to be offered again"


@pytest.mark.parametrize("intent", ["dont_know", "deny", "nlu_fallback", "inform"])
def test_no_order_number_is_answered_with_the_recent_orders(
    fakes: Fakes, domain: dict[str, Any], intent: str
) -> None:
    tracker = in_return_form("I don't have the order number", intent)
    result = run_action(ValidateReturnForm(), tracker, domain)
    assert responses(result) == ["utter_recent_orders_no_number"]
    assert [b["payload"] for b in buttons(result)] == [payload_of(o.id) for o in ALICE[:4]]
    assert slot_events(result) == {"order_number": None}


def test_an_item_named_fills_the_order_and_the_item(fakes: Fakes, domain: dict[str, Any]) -> None:
    tracker = journey_tracker(
        "I want to return the lampshade", "request_return", requested_slot=None
    )
    result = run_action(ValidateReturnForm(), tracker, domain)
    assert responses(result) == []
    assert slot_events(result) == {
        "order_number": "DEMO-1212-02",
        "return_item": "D104",
        "order_choices": None,
    }


def test_the_item_a_button_names_is_taken_with_its_order(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker(
        payload_of("DEMO-1212-02", "D151"),
        "inform",
        entities=[
            {"entity": "order_number", "value": "DEMO-1212-02"},
            {"entity": "product", "value": "D151"},
        ],
        requested_slot="order_number",
    )
    result = run_action(ValidateReturnForm(), tracker, domain)
    assert slot_events(result) == {
        "order_number": "DEMO-1212-02",
        "return_item": "D151",
        "order_choices": None,
    }


def test_an_order_past_its_window_ends_the_form_without_asking_item_or_reason(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker(
        payload_of("DEMO-1212-01"),
        "inform",
        requested_slot="order_number",
        entities=[{"entity": "order_number", "value": "DEMO-1212-01"}],
    )
    result = run_action(ValidateReturnForm(), tracker, domain)
    filled = slot_events(result)
    assert filled["order_number"] == "DEMO-1212-01"
    assert filled["return_item"] and filled["return_reason"], "nothing left to ask"
    assert responses(result) == []


def test_an_item_nobody_ordered_is_said_plainly_with_the_recent_orders(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    result = run_action(ValidateReturnForm(), in_return_form("the teapot"), domain)
    assert responses(result) == ["utter_item_not_in_orders"]
    oldest = ALICE[-1].ordered_on
    month = oldest.strftime("%B" if oldest.year == TODAY.year else "%B %Y")
    assert (result.messages[0]["item"], result.messages[0]["since"]) == ("a teapot", month)
    assert len(buttons(result)) == 4
    assert slot_events(result) == {"order_number": None}


def test_finns_candles_are_not_his_parcel_on_its_way(fakes: Fakes, domain: dict[str, Any]) -> None:
    tracker = journey_tracker(
        "hi, where's my order? it's the candles",
        "order_status",
        customer="cust-0006",
        open_orders=[{"id": "DEMO-3395-10"}],
    )
    result = run_action(ValidateOrderStatusForm(), tracker, domain)
    assert responses(result) == ["utter_item_not_in_orders"]
    assert result.messages[0]["item"] == "candles"
    assert "order_number" not in slot_events(result)
    assert [b["payload"] for b in buttons(result)] == [payload_of(o.id) for o in FINN]


def test_the_only_parcel_on_its_way_answers_where_is_my_order(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker("where's my parcel?", "order_status", open_orders=[])
    result = run_action(ValidateOrderStatusForm(), tracker, domain)
    assert slot_events(result) == {"order_number": "DEMO-1212-05", "order_choices": None}
    last = run_action(ValidateReturnForm(), in_return_form("the last one"), domain)
    assert slot_events(last)["order_number"] == "DEMO-1212-05"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("are you a bot?", "bot_challenge"),
        ("thanks", "thank"),
        ("can I speak to a person", "request_human"),
        ("no", "deny"),
    ],
)
def test_a_side_question_is_left_to_the_rules(
    fakes: Fakes, domain: dict[str, Any], text: str, intent: str
) -> None:
    for form in (ValidateReturnForm(), ValidateOrderStatusForm()):
        result = run_action(form, in_return_form(text, intent), domain)
        assert result.messages == [] and result.events == [], (form.name(), text)


def test_a_wrong_number_is_told_its_shape(fakes: Fakes, domain: dict[str, Any]) -> None:
    result = run_action(ValidateReturnForm(), in_return_form("DEMO-12"), domain)
    assert responses(result) == ["utter_order_number_invalid"]
    assert slot_events(result) == {"order_number": None}


def test_with_the_store_down_a_known_customer_is_asked_for_the_number(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    fakes.orders.history = None
    assert responses(run_action(ActionAskOrderNumber(), journey_tracker(), domain)) == [
        "utter_ask_order_number"
    ]


# --- the reason for a return --------------------------------------------------------------------


def test_a_reason_given_early_is_kept_and_never_read_as_no(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    result = run_action(ValidateReturnForm(), in_return_form("it arrived chipped", "deny"), domain)
    assert responses(result) == ["utter_return_reason_sorry"]
    assert slot_events(result) == {"return_reason": "it arrived chipped"}
    with_item = run_action(
        ValidateReturnForm(),
        in_return_form("the lampshade arrived chipped", "complain", requested_slot=None),
        domain,
    )
    assert responses(with_item) == ["utter_return_reason_sorry"]
    assert slot_events(with_item) == {
        "return_reason": "the lampshade arrived chipped",
        "order_number": "DEMO-1212-02",
        "return_item": "D104",
        "order_choices": None,
    }
    person = in_return_form("it's broken, can I talk to a person", "request_human")
    handoff = run_action(ValidateReturnForm(), person, domain)
    assert handoff.messages == [] and handoff.events == [], "the person is asked for"


def test_a_reason_given_for_the_item_question_is_not_the_item(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    tracker = in_return_form(
        "wrong size", order_number="DEMO-1212-02", requested_slot="return_item"
    )
    result = run_action(ValidateReturnForm(), tracker, domain)
    assert responses(result) == ["utter_return_reason_noted"]
    assert slot_events(result) == {"return_reason": "wrong size"}


@pytest.mark.parametrize(
    ("text", "intent", "entities", "kept"),
    [
        ('/inform{"return_reason":"It arrived damaged"}', "inform", "It arrived damaged", None),
        ("the colour is not what the photo showed", "inform", None, None),
        ("no", "deny", None, "nothing"),
        ("not what I expected", "deny", None, None),
        ("changed my mind", "stop", None, None),
        ("cancel", "stop", None, "nothing"),
        ("it's broken, let me talk to a person", "request_human", None, "nothing"),
    ],
)
def test_the_reason_question_takes_a_button_or_any_words(
    fakes: Fakes,
    domain: dict[str, Any],
    text: str,
    intent: str,
    entities: str | None,
    kept: str | None,
) -> None:
    tracker = journey_tracker(
        text,
        intent,
        entities=[{"entity": "return_reason", "value": entities}] if entities else None,
        order_number="DEMO-1212-02",
        return_item="D104",
        requested_slot="return_reason",
    )
    result = run_action(ValidateReturnForm(), tracker, domain)
    assert responses(result) == []
    if kept == "nothing":
        assert result.events == [], "the rules stop the form"
    else:
        assert slot_events(result) == {"return_reason": entities or text}


def test_a_damaged_item_goes_back_without_postage_and_the_reason_is_stored(
    fakes: Fakes, domain: dict[str, Any]
) -> None:
    shade = ALICE[3].lines[1]
    fakes.support.decision = Outcome.success(
        ReturnDecision(True, "accepted", policy_for("Loyal"), shade, 12.5, TODAY)
    )
    tracker = journey_tracker(
        order_number="DEMO-1212-02",
        return_item="D104",
        return_reason="It arrived damaged",
        customer_segment="Loyal",
    )
    result = run_action(ActionSubmitReturn(), tracker, domain)
    assert responses(result)[:2] == ["utter_return_accepted", "utter_return_postage_on_us"]
    assert fakes.support.returns == [("DEMO-1212-02", "D104", "It arrived damaged")]
    assert slot_events(result)["return_reason"] is None
    changed = journey_tracker(
        order_number="DEMO-1212-02",
        return_item="D104",
        return_reason="Changed my mind",
        customer_segment="Loyal",
    )
    assert "utter_return_postage_on_us" not in responses(
        run_action(ActionSubmitReturn(), changed, domain)
    )


# --- against the real store ---------------------------------------------------------------------


def test_the_demo_customer_finds_her_vase_orders_in_the_store(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    vase_orders = [
        row["id"]
        for row in fetch(
            store_with_demo_shop,
            """SELECT o.id FROM orders o JOIN order_lines l ON l.order_id = o.id
               JOIN products p ON p.stock_code = l.stock_code
               WHERE o.customer_id = 'cust-0001' AND p.description = 'CERAMIC VASE SPECKLED'
               AND o.status = 'delivered' ORDER BY o.ordered_at DESC""",
        )
    ]
    assert vase_orders, "the demo shop gives Alice a speckled vase, delivered"
    result = run_action(ValidateReturnForm(), in_return_form("the speckled vase"), domain)
    if len(vase_orders) == 1:
        assert slot_events(result)["order_number"] == vase_orders[0]
    else:
        assert responses(result) == ["utter_orders_with_item"]
        shown = [b["payload"] for b in buttons(result)]
        assert [p.split('"')[3] for p in shown] == vase_orders[:4]
    asked = run_action(ActionAskOrderNumber(), journey_tracker(), domain)
    assert responses(asked) == ["utter_ask_which_order"]
    latest = fetch(
        store_with_demo_shop,
        "SELECT id FROM orders WHERE customer_id = 'cust-0001' ORDER BY ordered_at DESC LIMIT 4",
    )
    assert [b["payload"] for b in buttons(asked)] == [payload_of(r["id"]) for r in latest]
