"""Identifying a visitor who is not signed in: an email or customer number, plus proof.

Knowing someone's email address is not proof of being them, so the visitor also names one of
their order numbers. The answer is the same whether the email is unknown or the order does not
match, so the chat cannot be used to find out who is a customer; attempts are limited and
audited by ``personalization.auth.sign_in``.
"""

from __future__ import annotations

import re

from personalization.store import Database
from personalization.store.customers import CustomerRepository
from personalization.support.orders import normalise_order_number

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CUSTOMER_NUMBER = re.compile(r"^(?:CUST)?[\s_-]*(\d{4,10})$", re.IGNORECASE)


def normalise_identifier(text: str | None) -> str | None:
    """An email (lower-cased) or a customer number as stored ("cust-0001"); None otherwise."""
    if not text:
        return None
    cleaned = text.strip().strip(".,;")
    if _EMAIL.match(cleaned):
        return cleaned.lower()
    number = _CUSTOMER_NUMBER.match(cleaned.replace("#", ""))
    if number:
        return f"cust-{number.group(1)}"
    return None


def verified_customer(db: Database, identifier: str, order_number: str | None) -> str | None:
    """The customer id if the identifier names a customer who placed that order."""
    order_id = normalise_order_number(order_number)
    if order_id is None:
        return None
    repo = CustomerRepository(db)
    customer = repo.find_by_email(identifier) if "@" in identifier else repo.get(identifier)
    if customer is None:
        return None
    with db.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM orders WHERE id = %s AND customer_id = %s", (order_id, customer.id)
        )
        return customer.id if cur.fetchone() else None
