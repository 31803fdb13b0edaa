from __future__ import annotations

from personalization.demo_data import PERSONAS, demo_customers, load_demo_customers
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
