from __future__ import annotations

from personalization.demo_data import (
    DEMO_PRODUCTS,
    PERSONAS,
    demo_customers,
    load_demo_customers,
    load_demo_shop,
)
from personalization.segments import Segmenter
from personalization.store import Database
from personalization.store.customers import CustomerRepository


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
