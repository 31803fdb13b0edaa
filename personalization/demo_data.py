"""Deterministic demo customers, so the embedded default has someone to talk to without any file.

The same seed always yields the same people, which keeps README examples and tests stable.
The first customers are fixed personas that the README and tests refer to by id.
"""

from __future__ import annotations

import random

from personalization.store.customers import Customer, CustomerRepository

PERSONAS: tuple[Customer, ...] = (
    Customer(
        "cust-0001",
        "Alice Martin",
        "alice.martin@example.com",
        "United Kingdom",
        "en",
        {"tone": "casual", "channel": "web"},
    ),
    Customer(
        "cust-0002",
        "Bruno Keller",
        "bruno.keller@example.com",
        "Germany",
        "en",
        {"tone": "formal", "channel": "email"},
    ),
    Customer(
        "cust-0003",
        "Chloé Dubois",
        "chloe.dubois@example.com",
        "France",
        "en",
        {"tone": "casual", "channel": "web"},
    ),
    Customer(
        "cust-0004",
        "Dev Patel",
        "dev.patel@example.com",
        "United Kingdom",
        "en",
        {"tone": "formal", "channel": "slack"},
    ),
)

_FIRST_NAMES = (
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Freya",
    "Leo",
    "Maya",
    "Arthur",
    "Sofia",
    "Luca",
    "Emma",
    "Jonas",
    "Ines",
    "Mateo",
    "Hannah",
    "Finn",
    "Lea",
    "Elias",
)
_LAST_NAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Wright",
    "Schmidt",
    "Muller",
    "Bernard",
    "Moreau",
    "Rossi",
    "Garcia",
    "Jansen",
    "Novak",
)
_COUNTRIES = (
    "United Kingdom",
    "United Kingdom",
    "United Kingdom",
    "Germany",
    "France",
    "EIRE",
    "Netherlands",
    "Spain",
    "Belgium",
    "Switzerland",
)


def demo_customers(count: int = 50, seed: int = 7) -> list[Customer]:
    rng = random.Random(seed)
    customers = list(PERSONAS[:count])
    for number in range(len(customers) + 1, count + 1):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        customers.append(
            Customer(
                id=f"cust-{number:04d}",
                display_name=f"{first} {last}",
                email=f"{first}.{last}.{number}@example.com".lower(),
                country=rng.choice(_COUNTRIES),
                language="en",
                preferences={
                    "tone": rng.choice(("formal", "casual")),
                    "channel": rng.choice(("web", "email", "slack")),
                },
            )
        )
    return customers


def load_demo_customers(repo: CustomerRepository, count: int = 50, seed: int = 7) -> int:
    """Upsert the demo customers; running it again changes nothing."""
    customers = demo_customers(count, seed)
    for customer in customers:
        repo.upsert(customer)
    return len(customers)
