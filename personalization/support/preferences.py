"""A new customer's stated taste (onboarding): interests as shop categories, and a budget."""

from __future__ import annotations

import json
import re
from typing import Any

from personalization.catalogue import CATEGORIES, OTHER, categorise
from personalization.recommender.cache import RecommendationCache
from personalization.store import Database

_AMOUNT = re.compile(r"(\d+(?:[.,]\d{1,2})?)")


def interest_category(text: str | None) -> str | None:
    """The shop category a customer's words point to ("candles" -> "Lighting & candles")."""
    if not text or not text.strip():
        return None
    wanted = text.strip().lower()
    for category in CATEGORIES:
        if category != OTHER and (wanted == category.lower() or wanted in category.lower()):
            return category
    category = categorise(wanted)
    return None if category == OTHER else category


def parse_budget(text: str | None) -> float | None:
    """A positive amount from "£20", "under 30 pounds", "15.50"; None if there is none."""
    if text is None:
        return None
    match = _AMOUNT.search(str(text))
    if not match:
        return None
    value = float(match.group(1).replace(",", "."))
    return value if 0 < value <= 10_000 else None


class ShoppingRepository:
    """What a customer told us they like, the products the chat shows, and which of them
    were shown and clicked."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save_taste(
        self,
        customer_id: str,
        interests: list[str],
        budget: float | None,
        cache: RecommendationCache | None = None,
    ) -> None:
        """Merge into the profile's preferences (tone and channel are kept), then drop the
        customer's cached lists, which were ranked without this taste."""
        taste: dict[str, object] = {"interests": interests}
        if budget is not None:
            taste["budget"] = budget
        with self._db.cursor() as cur:
            cur.execute(
                """UPDATE customers SET preferences = preferences || %s::jsonb,
                          updated_at = now()
                   WHERE id = %s""",
                (json.dumps(taste), customer_id),
            )
        if cache is not None:
            cache.forget_customer(customer_id)

    def product(self, stock_code: str) -> dict[str, Any] | None:
        """A catalogue product as the chat shows it, or None."""
        with self._db.cursor() as cur:
            cur.execute(
                "SELECT stock_code, description, category, unit_price FROM products "
                "WHERE stock_code = %s",
                (stock_code,),
            )
            row = cur.fetchone()
        return dict(row) if row else None

    def record_recommendations(
        self,
        customer_id: str,
        kind: str,
        codes: list[str],
        conversation_id: str,
        reasons: dict[str, str] | None = None,
    ) -> None:
        """Shown and clicked recommendations, as interactions the recommender can learn
        from; a shown one keeps the kind of reason it was shown for (``reason_for``)."""
        if kind not in ("recommendation_shown", "recommendation_clicked") or not codes:
            return
        reasons = reasons or {}
        with self._db.cursor() as cur:
            cur.executemany(
                """INSERT INTO interactions (customer_id, kind, item_id, context)
                   SELECT %s, %s, %s, jsonb_strip_nulls(jsonb_build_object(
                       'conversation_id', %s::text, 'reason', %s::text))
                   WHERE EXISTS (SELECT 1 FROM customers WHERE id = %s)""",
                [
                    (customer_id, kind, code, conversation_id, reasons.get(code), customer_id)
                    for code in codes
                ],
            )
