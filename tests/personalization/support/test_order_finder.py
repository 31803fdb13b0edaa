"""Finding the order a customer means from their words, over orders read from PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pytest

from personalization.demo_data import DEMO_PRODUCTS, load_demo_customers
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from personalization.support.order_finder import Found, OrderFinder, item_words, with_article
from personalization.support.orders import Order, OrderRepository
from personalization.support.return_reasons import reason_in, reason_kind
from personalization.support.returns import ReturnService

CODES = {description: code for code, description, _, _ in DEMO_PRODUCTS}
TODAY = date.today()

# (id, customer, days ago, status, items): Alice's history, Bruno's one planter, and Finn's
# (cust-0003 here) parcel on its way that holds no candles.
ORDERS = (
    ("A-1", "cust-0001", 200, "delivered", ("CERAMIC VASE SPECKLED", "WALL CLOCK RETRO KITCHEN")),
    (
        "A-2",
        "cust-0001",
        120,
        "delivered",
        ("CERAMIC VASE SPECKLED", "PAPER LAMPSHADE PALE BLUE", "BEESWAX PILLAR CANDLE SET OF 3"),
    ),
    ("A-3", "cust-0001", 40, "delivered", ("GLASS STAR LANTERN FROSTED",)),
    (
        "A-4",
        "cust-0001",
        10,
        "delivered",
        ("VELVET CUSHION COVER MUSTARD", "WHITE HANGING HEART T-LIGHT HOLDER"),
    ),
    ("A-5", "cust-0001", 1, "shipped", ("GLASS STAR LANTERN FROSTED", "ENAMEL MUG VINTAGE ROSE")),
    ("B-1", "cust-0002", 30, "delivered", ("TERRACOTTA PLANTER SET OF 3",)),
    ("F-1", "cust-0003", 290, "delivered", ("SPICE JARS SET OF 6",)),
    ("F-2", "cust-0003", 2, "shipped", ("TEA TOWEL PANTRY DESIGN", "BREAD BIN ENAMEL CREAM")),
)


@pytest.fixture
def shop(db: Database) -> Database:
    load_demo_customers(CustomerRepository(db))
    with db.cursor() as cur:
        for code, description, category, price in DEMO_PRODUCTS:
            cur.execute(
                "INSERT INTO products (stock_code, description, category, unit_price) "
                "VALUES (%s, %s, %s, %s)",
                (code, description, category, price),
            )
        for order_id, customer_id, days_ago, status, items in ORDERS:
            placed = datetime.combine(TODAY - timedelta(days=days_ago), time(12), timezone.utc)
            cur.execute(
                "INSERT INTO orders (id, customer_id, ordered_at, status, total) "
                "VALUES (%s, %s, %s, %s, 10)",
                (order_id, customer_id, placed, status),
            )
            for line_no, item in enumerate(items, start=1):
                cur.execute(
                    "INSERT INTO order_lines (order_id, line_no, stock_code, quantity, unit_price)"
                    " VALUES (%s, %s, %s, 1, 5)",
                    (order_id, line_no, CODES[item]),
                )
    return db


def orders_of(shop: Database, customer_id: str) -> list[Order]:
    return OrderRepository(shop).recent(customer_id)


def ids(match_candidates: tuple) -> list[str]:  # type: ignore[type-arg]
    return [c.order.id for c in match_candidates]


# Concepts a tiny encoder knows: a phrase is the sum of its words' concepts, so "pillow" and
# "velvet cushion cover mustard" point the same way and unknown words point nowhere.
CONCEPTS = {"pillow": 0, "cushion": 0, "cup": 1, "mug": 1, "light": 2, "lantern": 2}


def concept_encoder(texts: list[str]) -> np.ndarray:
    vectors = np.zeros((len(texts), 3), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            if word in CONCEPTS:
                vectors[row, CONCEPTS[word]] += 1.0
    return vectors


def test_recent_orders_are_the_customers_own_newest_first_with_their_lines(
    shop: Database,
) -> None:
    alice = orders_of(shop, "cust-0001")
    assert [o.id for o in alice] == ["A-5", "A-4", "A-3", "A-2", "A-1"]
    assert [line.description for line in alice[3].lines] == [
        "CERAMIC VASE SPECKLED",
        "PAPER LAMPSHADE PALE BLUE",
        "BEESWAX PILLAR CANDLE SET OF 3",
    ]
    assert [o.id for o in OrderRepository(shop).recent("cust-0001", limit=2)] == ["A-5", "A-4"]
    assert OrderRepository(shop).for_customer("A-2", "cust-0001") == alice[3]
    assert OrderRepository(shop).recent("cust-0099") == []


def test_an_item_named_in_several_orders_gives_those_orders_with_the_words_used(
    shop: Database,
) -> None:
    match = OrderFinder().find(
        orders_of(shop, "cust-0001"), "I'd like to return the speckled vase I bought"
    )
    assert match.found is Found.SEVERAL
    assert ids(match.candidates) == ["A-2", "A-1"]
    assert {c.line.description for c in match.candidates if c.line} == {"CERAMIC VASE SPECKLED"}
    assert match.item == "speckled vase"
    assert match.order is None


def test_plurals_prefixes_and_compounds_match_the_product_names(shop: Database) -> None:
    finder, alice = OrderFinder(), orders_of(shop, "cust-0001")
    candles = finder.find(alice, "where are my candles?")
    assert (candles.found, candles.order.id if candles.order else None) == (Found.ONE, "A-2")
    assert (
        candles.line is not None
        and candles.line.stock_code == CODES["BEESWAX PILLAR CANDLE SET OF 3"]
    )
    lamp = finder.find(alice, "the lamp")
    assert lamp.line is not None and lamp.line.description == "PAPER LAMPSHADE PALE BLUE"
    tealight = finder.find(alice, "the tealight thing")
    assert tealight.order is not None and tealight.order.id == "A-4"


def test_the_journey_narrows_several_orders_to_the_one_it_can_be_about(shop: Database) -> None:
    finder, alice = OrderFinder(), orders_of(shop, "cust-0001")
    assert ids(finder.find(alice, "the lantern").candidates) == ["A-5", "A-3"]
    returned = finder.find(alice, "I want to return the lantern", purpose="return")
    assert returned.order is not None and returned.order.id == "A-3", "the delivered one"
    status = finder.find(alice, "where's the lantern?", purpose="status")
    assert status.order is not None and status.order.id == "A-5", "the one on its way"


def test_the_head_word_decides_between_two_half_matches(shop: Database) -> None:
    match = OrderFinder().find(orders_of(shop, "cust-0001"), "the blue cushion")
    assert match.order is not None and match.order.id == "A-4"
    assert match.item == "cushion"


def test_meaning_finds_an_item_no_word_matches_and_only_then(shop: Database) -> None:
    alice = orders_of(shop, "cust-0001")
    by_meaning = OrderFinder(concept_encoder).find(alice, "the pillow")
    assert by_meaning.found is Found.ONE and by_meaning.basis == "meaning"
    assert by_meaning.order is not None and by_meaning.order.id == "A-4"
    assert by_meaning.line is not None and by_meaning.line.description.startswith("VELVET")
    assert by_meaning.item == "pillow"
    assert OrderFinder().find(alice, "the pillow").found is Found.NO_SUCH_ITEM, "words alone"
    assert OrderFinder(concept_encoder).find(alice, "the sofa").found is Found.NO_SUCH_ITEM
    by_words = OrderFinder(concept_encoder).find(alice, "the mug")
    assert (by_words.basis, by_words.order.id if by_words.order else None) == ("item", "A-5")


def test_the_last_one_is_the_newest_order(shop: Database) -> None:
    finder, alice = OrderFinder(), orders_of(shop, "cust-0001")
    for text in ("the last one", "my latest order", "the most recent one please"):
        match = finder.find(alice, text, purpose="return")
        assert (match.found, match.basis) == (Found.ONE, "latest"), text
        assert match.order is not None and match.order.id == "A-5"
    cushion = finder.find(alice, "the cushion from my last order")
    assert cushion.order is not None and cushion.order.id == "A-4", "the newest with a cushion"


def test_the_only_open_order_answers_a_status_question_that_names_nothing(
    shop: Database,
) -> None:
    finder, alice = OrderFinder(), orders_of(shop, "cust-0001")
    status = finder.find(alice, "hi, where's my parcel?", purpose="status")
    assert (status.found, status.basis) == (Found.ONE, "only_open")
    assert status.order is not None and status.order.id == "A-5"
    assert finder.find(alice, "hi, where's my parcel?", purpose="return").found is Found.NOTHING
    with shop.cursor() as cur:
        cur.execute("UPDATE orders SET status = 'placed' WHERE id = 'A-4'")
    two_open = finder.find(orders_of(shop, "cust-0001"), "where's my parcel?", purpose="status")
    assert two_open.found is Found.NOTHING


def test_an_item_in_none_of_the_orders_is_said_with_the_words_used_and_since_when(
    shop: Database,
) -> None:
    finn = orders_of(shop, "cust-0003")
    match = OrderFinder().find(finn, "hi, where's my order? it's the candles", purpose="status")
    assert match.found is Found.NO_SUCH_ITEM, "never the unrelated parcel on its way"
    assert match.item == "candles" and with_article(match.item) == "candles"
    assert match.since == TODAY - timedelta(days=290)
    assert [o.id for o in match.recent] == ["F-2", "F-1"]
    planter = OrderFinder().find(orders_of(shop, "cust-0001"), "the terracotta planter")
    assert planter.found is Found.NO_SUCH_ITEM, "Bruno's planter is not Alice's"
    assert with_article("terracotta planter") == "a terracotta planter"
    assert with_article("enamel mug") == "an enamel mug"


def test_not_knowing_the_number_is_recognised_by_its_words(shop: Database) -> None:
    finder, alice = OrderFinder(), orders_of(shop, "cust-0001")
    for text in (
        "I don't have the order number",
        "no idea",
        "I can't find the email",
        "dunno mate",
        "I don’t know it",
    ):
        match = finder.find(alice, text)
        assert match.found is Found.DONT_KNOW, text
        assert [o.id for o in match.recent][:4] == ["A-5", "A-4", "A-3", "A-2"]
    assert finder.find(alice, "hmm", dont_know=True).found is Found.DONT_KNOW, "the intent"
    named = finder.find(alice, "I don't know the number, it's the cushion")
    assert named.order is not None and named.order.id == "A-4", "an item named still counts"


def test_words_that_name_nothing_are_nothing(shop: Database) -> None:
    finder, alice = OrderFinder(), orders_of(shop, "cust-0001")
    for text in ("hello", "can I talk to a person please", "it arrived chipped", "yes"):
        assert finder.find(alice, text).found is Found.NOTHING, text
    long = "my neighbour reckons couriers around here always leave things behind hedges"
    assert finder.find(alice, long).found is Found.NOTHING, "a sentence, not an item's name"
    assert item_words("the vase arrived chipped, so I want a refund") == ["vase"]


def test_a_long_message_is_read_for_items_in_its_first_words_only(shop: Database) -> None:
    filler = " ".join(f"zebra{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(300))
    words = item_words(f"{filler} the speckled vase " + "x" * 500)
    assert len(words) == 24, "matching costs words x lines, so the words read are capped"
    assert all(len(word) <= 30 for word in words)
    finder, alice = OrderFinder(), orders_of(shop, "cust-0001")
    match = finder.find(alice, "the ceramic vase speckled " + "vase " * 300)
    assert match.found is Found.SEVERAL and ids(match.candidates) == ["A-2", "A-1"]
    assert match.item is not None and len(match.item.split()) <= 4, "the echo stays short"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("it arrived chipped", "damaged"),
        ("the handle is broken", "damaged"),
        ("wrong size", "wrong_size"),
        ("it doesn't fit", "wrong_size"),
        ("you sent the wrong item", "wrong_item"),
        ("not what I expected", "not_as_expected"),
        ("changed my mind", "changed_mind"),
        ("I changed my mind about returning it", None),
        ("never mind", None),
        ("the vase", None),
    ],
)
def test_reasons_are_read_from_the_customers_words(text: str, kind: str | None) -> None:
    found = reason_in(text)
    assert (found.kind if found else None) == kind


def test_a_return_keeps_its_reason_masked_with_its_kind(shop: Database) -> None:
    order = OrderRepository(shop).for_customer("A-4", "cust-0001")
    assert order is not None
    service = ReturnService(shop)
    decision = service.decide(order, "cushion", None, TODAY)
    reason = "It arrived chipped, call me on 07911 123456"
    assert service.record(order, decision, "conv-reason", reason).accepted
    with shop.cursor() as cur:
        cur.execute("SELECT reason, reason_kind FROM return_requests WHERE order_id = 'A-4'")
        row = cur.fetchone()
    assert row["reason_kind"] == "damaged" == reason_kind(reason)
    assert row["reason"].startswith("It arrived chipped") and "07911" not in row["reason"]
    with shop.cursor() as cur:  # a return without a reason has none
        cur.execute("UPDATE orders SET status = 'delivered' WHERE id = 'A-5'")
    delivered = OrderRepository(shop).for_customer("A-5", "cust-0001")
    assert delivered is not None
    service.record(delivered, service.decide(delivered, "mug", None, TODAY), "conv-none")
    with shop.cursor() as cur:
        cur.execute("SELECT reason, reason_kind FROM return_requests WHERE order_id = 'A-5'")
        assert dict(cur.fetchone()) == {"reason": None, "reason_kind": None}
