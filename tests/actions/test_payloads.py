"""Button payloads are JSON that Rasa parses back to exactly the entities they were built from."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.nlu.training_data.message import Message

from actions.fallback import confirmation_payload
from actions.orders import order_button
from actions.payloads import intent_payload
from actions.recommendations import choose
from actions.returns import ActionAskReturnItem
from personalization.store import Database
from tests.actions.conftest import fetch, journey_tracker, responses, run_action

# Values a stock code, an order number or a typed phrase could hold, each trying to close its
# JSON string and add an entity of its own. (The order numbers only need a demo order's shape.)
NASTY = [
    'DEMO-4821-14"}',
    'A"}{"order_number":"DEMO-3307-01',
    '85123A","order_number":"DEMO-3307-01',
    "{}",
    "back\\slash",
    'quote " inside',
    "Chloé’s ☕ mug",
    "new\nline",
]


def parsed(payload: str) -> tuple[str, list[tuple[str, Any]]]:
    """The intent and entities Rasa's own payload parser reads from a button."""
    [message] = RegexMessageHandler().process([Message(data={"text": payload})])
    entities = [(e["entity"], e["value"]) for e in message.get("entities")]
    return message.get("intent")["name"], entities


def test_an_intent_alone_is_just_its_name() -> None:
    assert intent_payload("identify") == "/identify"
    assert parsed("/identify") == ("identify", [])


def test_the_encoding_is_compact_json() -> None:
    assert intent_payload("inform", order_number="DEMO-4821-14") == (
        '/inform{"order_number":"DEMO-4821-14"}'
    )
    assert intent_payload("rate", csat="5") == '/rate{"csat":"5"}'


@pytest.mark.parametrize("value", NASTY)
def test_a_quote_or_brace_in_a_value_stays_inside_its_string(value: str) -> None:
    payload = intent_payload("inform", order_number=value)
    assert json.loads(payload.removeprefix("/inform")) == {"order_number": value}
    assert parsed(payload) == ("inform", [("order_number", value)])


@pytest.mark.parametrize("value", NASTY)
def test_the_buttons_actions_build_round_trip(value: str) -> None:
    assert parsed(order_button(value)["payload"]) == ("inform", [("order_number", value)])
    assert parsed(choose({"stock_code": value})) == ("choose_product", [("product", value)])
    message = {"entities": [{"entity": "date", "value": value}]}
    assert parsed(confirmation_payload("order_status", message)) == (
        "order_status",
        [("date", value)],
    )


def test_several_entities_keep_their_own_values() -> None:
    payload = intent_payload("inform", product='x"}', amount=25)
    assert parsed(payload) == ("inform", [("product", 'x"}'), ("amount", 25)])


@pytest.mark.parametrize("intent", ["", "Inform", "inform{", "/inform", "in form", "1st"])
def test_what_is_not_an_intent_name_is_refused(intent: str) -> None:
    with pytest.raises(ValueError, match="not an intent name"):
        intent_payload(intent, product="x")


def test_a_stock_code_from_the_store_with_a_quote_is_one_entity_in_the_return_buttons(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    code = 'Q"},{"order_number":"X'
    [order] = fetch(
        store_with_demo_shop,
        "SELECT id FROM orders WHERE customer_id = 'cust-0001' AND status = 'delivered' "
        "ORDER BY ordered_at DESC LIMIT 1",
    )
    with store_with_demo_shop.cursor() as cur:
        cur.execute(
            "INSERT INTO products (stock_code, description, unit_price) VALUES (%s, %s, 3)",
            (code, 'MUG "BEST GRAN"'),
        )
        cur.execute(
            "INSERT INTO order_lines (order_id, line_no, stock_code, quantity, unit_price) "
            "SELECT %s, max(line_no) + 1, %s, 1, 3 FROM order_lines WHERE order_id = %s",
            (order["id"], code, order["id"]),
        )
    result = run_action(ActionAskReturnItem(), journey_tracker(order_number=order["id"]), domain)
    assert responses(result) == ["utter_ask_return_item"]
    buttons = result.messages[0]["buttons"]
    [mug] = [b for b in buttons if b["title"] == 'Mug "Best Gran"']
    assert parsed(mug["payload"]) == ("inform", [("product", code)])
    assert all(parsed(b["payload"])[0] == "inform" for b in buttons)
