from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from personalization.demo_data import (
    DEMO_PRODUCTS,
    PERSONAS,
    demo_customers,
    demo_order_id,
    demo_orders,
    load_demo_customers,
    load_demo_shop,
    order_prefixes,
)
from personalization.pseudonym import pseudonym_key_from_env
from personalization.segments import Segmenter
from personalization.store import Database
from personalization.store.customers import Customer, CustomerRepository

ANOTHER_KEY = b"another-pseudonym-key-0123456789abcdef"
ORDER_ID = re.compile(r"^DEMO-(\d{4})-(\d{2})$")
# Orders are dated from today; a fixed day where whole orders are compared.
REFERENCE = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)


def test_demo_customers_are_deterministic_and_unique() -> None:
    first, second = demo_customers(50, seed=7), demo_customers(50, seed=7)
    assert first == second
    assert len({c.id for c in first}) == 50
    assert len({c.email for c in first}) == 50
    assert first[: len(PERSONAS)] == list(PERSONAS)


def test_another_seed_gives_other_generated_customers() -> None:
    assert demo_customers(50, seed=7)[10:] != demo_customers(50, seed=8)[10:]


def test_loading_twice_keeps_one_row_per_customer(db: Database) -> None:
    repo = CustomerRepository(db)
    assert load_demo_customers(repo) == 50
    assert load_demo_customers(repo) == 50
    assert repo.count() == 50
    alice = repo.get("cust-0001")
    assert alice is not None and alice.display_name == "Alice Martin"


def test_the_demo_shop_has_a_catalogue_a_year_of_orders_and_articles(db: Database) -> None:
    customers = demo_customers()
    load_demo_customers(CustomerRepository(db))
    first = load_demo_shop(db, customers)
    assert load_demo_shop(db, customers)["articles_changed"] == 0, "a second load changes nothing"
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n, count(DISTINCT category) AS c FROM products")
        products = cur.fetchone()
        cur.execute(
            """SELECT count(*) AS n, min(ordered_at) AS first, max(ordered_at) AS last,
                      count(DISTINCT customer_id) AS buyers FROM orders"""
        )
        orders = cur.fetchone()
        cur.execute("SELECT count(*) AS n FROM order_lines")
        lines = cur.fetchone()["n"]
        cur.execute("SELECT count(*) AS n FROM help_articles")
        articles = cur.fetchone()["n"]
        cur.execute("SELECT status, expected_delivery FROM orders WHERE status = 'shipped'")
        shipped = cur.fetchall()
    assert products["n"] == len(DEMO_PRODUCTS) >= 50 and products["c"] >= 12
    assert orders["n"] == first["orders"] >= 150
    assert (orders["last"] - orders["first"]).days >= 300, "orders spread over a year"
    assert 30 <= orders["buyers"] < 50, "some demo customers have not ordered yet"
    assert lines > orders["n"]
    assert articles >= 30
    assert shipped and all(row["expected_delivery"] for row in shipped)


def test_the_personas_land_in_the_segments_the_readme_describes(db: Database) -> None:
    load_demo_customers(CustomerRepository(db))
    load_demo_shop(db, demo_customers())
    Segmenter(db).run()
    with db.cursor() as cur:
        cur.execute(
            "SELECT customer_id, segment FROM segment_assignments WHERE customer_id = ANY(%s)",
            (["cust-0001", "cust-0002", "cust-0003"],),
        )
        segments = {r["customer_id"]: r["segment"] for r in cur.fetchall()}
    assert segments["cust-0001"] == "Champions"
    assert segments["cust-0002"] == "Lost"
    assert segments["cust-0003"] == "New"


# --- order numbers -----------------------------------------------------------------------


def test_order_numbers_do_not_contain_the_customer_number() -> None:
    """Knowing cust-0007 must not tell anyone the order number that signs in as cust-0007."""
    customers = demo_customers()
    orders = demo_orders(customers)
    assert {o.customer_id for o in orders} >= {"cust-0001", "cust-0002", "cust-0004"}
    for key in (pseudonym_key_from_env(), ANOTHER_KEY):
        prefixes = order_prefixes(customers, key)
        same = [c.id for c in customers if prefixes[c.id] == c.id[-4:]]
        assert len(same) <= 1, f"prefixes follow the customer numbers: {same}"
    # A keyed hash may hit a customer's own number by chance, but not for several customers.
    giving_away: set[str] = set()
    for order in orders:
        match = ORDER_ID.match(order.id)
        assert match, order.id
        if match.group(1) == order.customer_id[-4:]:
            giving_away.add(order.customer_id)
    assert len(giving_away) <= 1, giving_away


def test_order_numbers_are_built_from_one_unique_prefix_per_customer() -> None:
    customers = demo_customers()
    key = pseudonym_key_from_env()
    prefixes = order_prefixes(customers, key)
    assert set(prefixes) == {c.id for c in customers}
    assert len(set(prefixes.values())) == len(customers), "no two customers share a prefix"
    assert all(re.fullmatch(r"\d{4}", p) for p in prefixes.values())
    numbers: dict[str, list[int]] = {}
    for order in demo_orders(customers):
        match = ORDER_ID.match(order.id)
        assert match and match.group(1) == prefixes[order.customer_id], order.id
        numbers.setdefault(order.customer_id, []).append(int(match.group(2)))
        assert order.id == demo_order_id(order.customer_id, int(match.group(2)))
        assert order.id == demo_order_id(order.customer_id, int(match.group(2)), key)
    assert all(n == list(range(1, len(n) + 1)) for n in numbers.values()), "1 is the oldest"
    assert len(numbers["cust-0001"]) == 14


def test_prefixes_stay_unique_when_hashes_collide() -> None:
    many = [Customer(f"cust-{n:05d}", None) for n in range(3000)]  # collisions are certain
    prefixes = order_prefixes(many, ANOTHER_KEY)
    assert len(set(prefixes.values())) == len(many)
    assert all(1000 <= int(p) <= 9999 for p in prefixes.values())


def test_order_numbers_are_stable_for_the_same_key() -> None:
    customers = demo_customers()
    key = pseudonym_key_from_env()
    assert order_prefixes(customers, key) == order_prefixes(demo_customers(), key)
    assert demo_orders(customers, reference=REFERENCE) == demo_orders(
        customers, reference=REFERENCE, key=key
    )
    assert demo_order_id("cust-0001", 14) == demo_order_id("cust-0001", 14, key)
    # A customer's prefix does not depend on which customers are loaded with them.
    assert {o.id for o in demo_orders(customers[:12])} <= {o.id for o in demo_orders(customers)}
    for order in demo_orders(customers[20:30]):
        assert order.id.startswith(demo_order_id(order.customer_id, 1)[:-2]), order.id


def test_another_key_gives_other_order_numbers_and_nothing_else() -> None:
    customers = demo_customers()
    mine, theirs = (
        order_prefixes(customers, pseudonym_key_from_env()),
        order_prefixes(customers, ANOTHER_KEY),
    )
    assert len(set(theirs.values())) == len(customers)
    changed = [c.id for c in customers if mine[c.id] != theirs[c.id]]
    assert len(changed) >= len(customers) - 2, "almost every prefix changes with the key"
    assert demo_order_id("cust-0001", 14, ANOTHER_KEY) == f"DEMO-{theirs['cust-0001']}-14"
    ours = demo_orders(customers, reference=REFERENCE)
    others = demo_orders(customers, reference=REFERENCE, key=ANOTHER_KEY)
    assert [o.id for o in ours] != [o.id for o in others]
    assert [replace(o, id="") for o in ours] == [replace(o, id="") for o in others]


def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    queries = {
        "customers": "SELECT * FROM customers ORDER BY id",
        "products": "SELECT * FROM products ORDER BY stock_code",
        "orders": "SELECT * FROM orders ORDER BY id",
        "order_lines": "SELECT * FROM order_lines ORDER BY order_id, line_no",
        "help_articles": "SELECT * FROM help_articles ORDER BY 1",
    }
    with db.cursor() as cur:
        tables = {}
        for table, query in queries.items():
            cur.execute(query)
            tables[table] = [dict(r) for r in cur.fetchall()]
    return tables


def test_loading_the_demo_shop_twice_changes_nothing(db: Database) -> None:
    customers = demo_customers()
    load_demo_customers(CustomerRepository(db))
    first = load_demo_shop(db, customers)
    before = snapshot(db)
    again = load_demo_shop(db, customers)
    assert snapshot(db) == before
    assert again == {**first, "articles_changed": 0}
    assert {r["id"] for r in before["orders"]} == {o.id for o in demo_orders(customers)}
    assert demo_order_id("cust-0001", 14) in {r["id"] for r in before["orders"]}
