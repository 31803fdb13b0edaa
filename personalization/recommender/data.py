"""Purchases and features for the recommender, read from the store.

Item features are the product's category, the words of its description and a price band.
User features are country, segment and stated preferences in production. For the offline
evaluation the segment of today would leak the future, so frequency and recency buckets
computed at the split date stand in for it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from personalization.catalogue import categorise
from personalization.recommender.model import Purchases
from personalization.store import Database

_WORD = re.compile(r"[a-z]{3,}")
_STOP = {"and", "the", "for", "with", "set", "of", "in", "pack", "assorted", "colour", "design"}
_SECONDS_PER_DAY = 86400.0


def bucket(value: float, edges: tuple[float, ...]) -> int:
    return int(np.searchsorted(edges, value, side="right"))


def description_words(description: str) -> list[str]:
    return sorted({w for w in _WORD.findall(description.lower()) if w not in _STOP})


def item_features(product: dict[str, Any] | None, code: str) -> list[str]:
    description = product["description"] if product else code
    category = (product or {}).get("category") or categorise(description)
    price = float(product["unit_price"] or 0) if product else 0.0
    return (
        [f"category:{category}"]
        + [f"word:{w}" for w in description_words(description)]
        + [f"price:{bucket(price, (1, 2.5, 5, 10, 25))}"]
    )


def profile_features(
    country: str | None, segment: str | None, preferences: dict[str, Any] | None
) -> list[str]:
    """The features of a customer as the production model knows them."""
    features = [f"country:{country or 'unknown'}"]
    if segment:
        features.append(f"segment:{segment}")
    for key in ("tone", "channel"):
        value = (preferences or {}).get(key)
        if value:
            features.append(f"{key}:{value}")
    return features


@dataclass
class _Lines:
    customer_ids: list[str]
    stock_codes: list[str]
    ordered_at: list[datetime]


def _read_lines(db: Database, until: datetime | None) -> _Lines:
    query = """SELECT o.customer_id, l.stock_code, o.ordered_at
               FROM order_lines l JOIN orders o ON o.id = l.order_id"""
    params: tuple[Any, ...] = ()
    if until is not None:
        query += " WHERE o.ordered_at < %s"
        params = (until,)
    with db.cursor() as cur:
        cur.execute(query, params)
        rows = cur.fetchall()
    return _Lines(
        [r["customer_id"] for r in rows],
        [r["stock_code"] for r in rows],
        [r["ordered_at"] for r in rows],
    )


def _products(db: Database) -> dict[str, dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute("SELECT stock_code, description, category, unit_price FROM products")
        return {r["stock_code"]: dict(r) for r in cur.fetchall()}


def _purchases(
    lines: _Lines,
    users: list[str],
    items: list[str],
    reference: datetime,
    user_features: list[list[str]],
    products: dict[str, dict[str, Any]],
) -> Purchases:
    user_index = {c: u for u, c in enumerate(users)}
    item_index = {c: i for i, c in enumerate(items)}
    keep = [
        n
        for n, (code, when) in enumerate(zip(lines.stock_codes, lines.ordered_at, strict=True))
        if when < reference and code in item_index
    ]
    return Purchases(
        users=users,
        items=items,
        user_idx=np.array([user_index[lines.customer_ids[n]] for n in keep], dtype=np.int32),
        item_idx=np.array([item_index[lines.stock_codes[n]] for n in keep], dtype=np.int32),
        days_before=np.array(
            [(reference - lines.ordered_at[n]).total_seconds() / _SECONDS_PER_DAY for n in keep],
            dtype=np.float32,
        ),
        user_features=user_features,
        item_features=[item_features(products.get(code), code) for code in items],
        reference=reference,
    )


def training_purchases(db: Database, reference: datetime | None = None) -> Purchases:
    """Every purchase up to ``reference`` (default: the latest order), with profile features."""
    lines = _read_lines(db, None)
    if not lines.ordered_at:
        raise ValueError("there are no orders to train on")
    # Just after the latest order, so that order counts as history.
    cutoff = reference or max(lines.ordered_at) + timedelta(seconds=1)
    with db.cursor() as cur:
        cur.execute(
            """SELECT c.id, c.country, c.preferences, s.segment
               FROM customers c LEFT JOIN segment_assignments s ON s.customer_id = c.id
               WHERE c.id IN (SELECT DISTINCT customer_id FROM orders)"""
        )
        profiles = {r["id"]: r for r in cur.fetchall()}
    users = sorted(
        {c for c, when in zip(lines.customer_ids, lines.ordered_at, strict=True) if when < cutoff}
    )
    items = sorted(
        {s for s, when in zip(lines.stock_codes, lines.ordered_at, strict=True) if when < cutoff}
    )
    features = [
        profile_features(
            profiles.get(c, {}).get("country"),
            profiles.get(c, {}).get("segment"),
            profiles.get(c, {}).get("preferences"),
        )
        for c in users
    ]
    return _purchases(lines, users, items, cutoff, features, _products(db))


@dataclass
class SplitData:
    """A temporal split: the purchases before it, and each customer's new items after it."""

    history: Purchases
    truth: dict[int, set[int]]

    @property
    def users(self) -> list[str]:
        return self.history.users

    @property
    def items(self) -> list[str]:
        return self.history.items

    @property
    def split_at(self) -> datetime:
        return self.history.reference

    def _purchase_counts(self) -> np.ndarray:
        return np.bincount(self.history.user_idx, minlength=len(self.users))

    def warm_users(self) -> list[int]:
        counts = self._purchase_counts()
        return sorted(u for u in self.truth if counts[u] > 0)

    def cold_users(self) -> list[int]:
        counts = self._purchase_counts()
        return sorted(u for u in self.truth if counts[u] == 0)


def load_split(db: Database, split_at: datetime) -> SplitData:
    lines = _read_lines(db, None)
    users = sorted(set(lines.customer_ids))
    items = sorted(
        {s for s, w in zip(lines.stock_codes, lines.ordered_at, strict=True) if w < split_at}
    )
    with db.cursor() as cur:
        cur.execute("SELECT id, country FROM customers")
        countries = {r["id"]: r["country"] or "unknown" for r in cur.fetchall()}
    orders_before: Counter[str] = Counter()
    last_seen: dict[str, datetime] = {}
    for customer, when in zip(lines.customer_ids, lines.ordered_at, strict=True):
        if when < split_at:
            orders_before[customer] += 1
            last_seen[customer] = max(when, last_seen.get(customer, when))
    features = []
    for customer in users:
        row = [f"country:{countries.get(customer, 'unknown')}"]
        if orders_before[customer]:
            row += [
                f"lines:{bucket(orders_before[customer], (5, 20, 60, 200))}",
                f"recency:{bucket((split_at - last_seen[customer]).days, (14, 45, 120, 240))}",
            ]
        else:
            row.append("lines:new")
        features.append(row)
    history = _purchases(lines, users, items, split_at, features, _products(db))
    owned = set(zip(history.user_idx.tolist(), history.item_idx.tolist(), strict=True))
    user_index = {c: u for u, c in enumerate(users)}
    item_index = {c: i for i, c in enumerate(items)}
    truth: dict[int, set[int]] = {}
    for customer, code, when in zip(
        lines.customer_ids, lines.stock_codes, lines.ordered_at, strict=True
    ):
        if when >= split_at and code in item_index:
            pair = (user_index[customer], item_index[code])
            if pair not in owned:
                truth.setdefault(pair[0], set()).add(pair[1])
    return SplitData(history, truth)
