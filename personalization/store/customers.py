"""Repository over the `customers` table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from personalization.store.db import Database


@dataclass(frozen=True)
class Customer:
    id: str
    display_name: str | None
    email: str | None = None
    country: str | None = None
    language: str = "en"
    preferences: dict[str, Any] = field(default_factory=dict)

    @property
    def first_name(self) -> str | None:
        """The name to greet with, if the customer gave one."""
        parts = (self.display_name or "").split()
        return parts[0] if parts else None


_COLUMNS = "id, display_name, email, country, language, preferences"


class CustomerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, customer_id: str) -> Customer | None:
        with self._db.cursor() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM customers WHERE id = %s", (customer_id,))
            row = cur.fetchone()
        return Customer(**row) if row else None

    def find_by_email(self, email: str) -> Customer | None:
        with self._db.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM customers WHERE lower(email) = lower(%s)", (email,)
            )
            row = cur.fetchone()
        return Customer(**row) if row else None

    def upsert(self, customer: Customer) -> None:
        with self._db.cursor() as cur:
            cur.execute(
                """
                INSERT INTO customers (id, display_name, email, country, language, preferences)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (id) DO UPDATE SET
                    display_name = EXCLUDED.display_name,
                    email = EXCLUDED.email,
                    country = EXCLUDED.country,
                    language = EXCLUDED.language,
                    preferences = EXCLUDED.preferences,
                    updated_at = now()
                """,
                (
                    customer.id,
                    customer.display_name,
                    customer.email,
                    customer.country,
                    customer.language,
                    json.dumps(customer.preferences),
                ),
            )

    def count(self) -> int:
        with self._db.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM customers")
            return int(cur.fetchone()["n"])
