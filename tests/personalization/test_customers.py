from __future__ import annotations

import psycopg2
import pytest

from personalization.store import Database
from personalization.store.customers import Customer, CustomerRepository


def test_upsert_then_get_round_trips_every_field(db: Database) -> None:
    repo = CustomerRepository(db)
    customer = Customer(
        "cust-9001",
        "Zoe Quinn",
        "Zoe@Example.com",
        "France",
        "fr",
        {"tone": "formal", "channel": "web"},
    )
    repo.upsert(customer)
    assert repo.get("cust-9001") == customer


def test_upsert_updates_an_existing_customer(db: Database) -> None:
    repo = CustomerRepository(db)
    repo.upsert(Customer("cust-9002", "Old Name"))
    repo.upsert(Customer("cust-9002", "New Name", country="Spain"))
    stored = repo.get("cust-9002")
    assert stored is not None
    assert (stored.display_name, stored.country) == ("New Name", "Spain")
    assert repo.count() == 1


def test_unknown_customer_is_none(db: Database) -> None:
    assert CustomerRepository(db).get("cust-nobody") is None


def test_find_by_email_ignores_case(db: Database) -> None:
    repo = CustomerRepository(db)
    repo.upsert(Customer("cust-9003", "Ann Lee", "ann.lee@example.com"))
    found = repo.find_by_email("ANN.LEE@example.COM")
    assert found is not None and found.id == "cust-9003"


def test_first_name_is_the_first_word() -> None:
    assert Customer("c1", "Chloé Dubois").first_name == "Chloé"


@pytest.mark.parametrize("bad_id", ["", "has space", "semi;colon", "x" * 65])
def test_ids_that_are_not_pseudonymous_tokens_are_rejected(db: Database, bad_id: str) -> None:
    with pytest.raises(psycopg2.errors.CheckViolation):
        CustomerRepository(db).upsert(Customer(bad_id, "Someone"))
