"""What is known about each customer at a cut-off date, as numbers a model can weigh.

Every feature is computed from orders and returns strictly before the cut-off, so a model
fitted at one date and applied at a later one sees the same kind of facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from personalization.store import Database

HORIZON_DAYS = 90
FEATURES = (
    "recency_days",
    "orders",
    "spend",
    "tenure_days",
    "orders_last_30_days",
    "orders_last_90_days",
    "order_trend",
    "mean_days_between_orders",
    "overdue_ratio",
    "mean_basket",
    "returned_share",
    "categories",
    "in_home_country",
)
# Shown to support agents and in `personalization churn explain`.
DESCRIPTIONS = {
    "recency_days": "days since the last order",
    "orders": "orders so far",
    "spend": "spend so far",
    "tenure_days": "days since the first order",
    "orders_last_30_days": "orders in the last 30 days",
    "orders_last_90_days": "orders in the last 90 days",
    "order_trend": "orders in the last 90 days against the 90 before",
    "mean_days_between_orders": "usual days between orders",
    "overdue_ratio": "time since the last order, in usual gaps",
    "mean_basket": "average order value",
    "returned_share": "share of spend returned",
    "categories": "product categories bought",
    "in_home_country": "orders from the shop's home country",
}
HOME_COUNTRY = "United Kingdom"
MIN_GAP_DAYS = 7.0


@dataclass(frozen=True)
class History:
    """Every order and return, as parallel arrays, read once."""

    order_customer: np.ndarray
    order_time: np.ndarray  # datetime64[s]
    order_total: np.ndarray
    return_customer: np.ndarray
    return_time: np.ndarray
    return_value: np.ndarray
    category_customer: np.ndarray  # one row per order and category on it
    category_time: np.ndarray
    category: np.ndarray
    countries: dict[str, str]

    @property
    def last_order(self) -> datetime:
        return _to_datetime(self.order_time.max())


def _to_datetime(value: np.datetime64) -> datetime:
    from datetime import timezone

    return datetime.fromtimestamp(int(value.astype("datetime64[s]").astype(np.int64)), timezone.utc)


def _seconds(values: list[datetime]) -> np.ndarray:
    return np.array([v.timestamp() for v in values], dtype="int64").astype("datetime64[s]")


def load_history(db: Database) -> History:
    with db.cursor() as cur:
        cur.execute("SELECT customer_id, ordered_at, total FROM orders")
        orders = cur.fetchall()
        cur.execute(
            "SELECT customer_id, returned_at, sum(quantity * unit_price) AS value FROM returns "
            "GROUP BY customer_id, invoice_id, returned_at"
        )
        returns = cur.fetchall()
        cur.execute(
            """SELECT DISTINCT o.customer_id, o.ordered_at, coalesce(p.category, 'Other') AS c
               FROM order_lines l JOIN orders o ON o.id = l.order_id
               JOIN products p ON p.stock_code = l.stock_code"""
        )
        categories = cur.fetchall()
        cur.execute("SELECT id, coalesce(country, '') AS country FROM customers")
        countries = {r["id"]: r["country"] for r in cur.fetchall()}
    return History(
        order_customer=np.array([r["customer_id"] for r in orders], dtype=object),
        order_time=_seconds([r["ordered_at"] for r in orders]),
        order_total=np.array([float(r["total"]) for r in orders]),
        return_customer=np.array([r["customer_id"] for r in returns], dtype=object),
        return_time=_seconds([r["returned_at"] for r in returns]),
        return_value=np.array([float(r["value"]) for r in returns]),
        category_customer=np.array([r["customer_id"] for r in categories], dtype=object),
        category_time=_seconds([r["ordered_at"] for r in categories]),
        category=np.array([r["c"] for r in categories], dtype=object),
        countries=countries,
    )


@dataclass(frozen=True)
class Snapshot:
    customers: list[str]
    values: np.ndarray  # customers × FEATURES

    def row(self, customer_id: str) -> np.ndarray | None:
        try:
            return self.values[self.customers.index(customer_id)]
        except ValueError:
            return None


def snapshot(history: History, cutoff: datetime) -> Snapshot:
    """The features of every customer with an order before ``cutoff``."""
    cut = np.datetime64(int(cutoff.timestamp()), "s")
    before = history.order_time < cut
    customers = sorted(set(history.order_customer[before].tolist()))
    index = {c: i for i, c in enumerate(customers)}
    n = len(customers)
    rows = np.array([index[c] for c in history.order_customer[before]], dtype=np.int64)
    age_days = (cut - history.order_time[before]).astype("timedelta64[s]").astype(float) / 86400
    orders = np.bincount(rows, minlength=n).astype(float)
    spend = np.bincount(rows, weights=history.order_total[before], minlength=n)
    recency = np.full(n, np.inf)
    np.minimum.at(recency, rows, age_days)
    tenure = np.zeros(n)
    np.maximum.at(tenure, rows, age_days)
    last_30 = np.bincount(rows, weights=age_days <= 30, minlength=n)
    last_90 = np.bincount(rows, weights=age_days <= 90, minlength=n)
    previous_90 = np.bincount(rows, weights=(age_days > 90) & (age_days <= 180), minlength=n)
    # Orders on one day are one shopping trip: a usual gap is at least a week.
    gaps = np.where(orders > 1, (tenure - recency) / np.maximum(orders - 1, 1), tenure + 90)
    gaps = np.maximum(gaps, MIN_GAP_DAYS)

    returned = np.zeros(n)
    in_window = history.return_time < cut
    for customer, value in zip(
        history.return_customer[in_window], history.return_value[in_window], strict=True
    ):
        if customer in index:
            returned[index[customer]] += value

    categories = np.zeros(n)
    seen: set[tuple[str, str]] = set()
    category_rows = history.category_time < cut
    for customer, category in zip(
        history.category_customer[category_rows], history.category[category_rows], strict=True
    ):
        if customer in index and (customer, category) not in seen:
            seen.add((customer, category))
            categories[index[customer]] += 1

    home = np.array([history.countries.get(c) == HOME_COUNTRY for c in customers], dtype=float)
    values = np.column_stack(
        [
            recency,
            orders,
            np.maximum(spend, 0.0),
            tenure,
            last_30,
            last_90,
            (last_90 + 1) / (previous_90 + 1),
            gaps,
            recency / np.maximum(gaps, 1.0),
            np.maximum(spend, 0.0) / orders,
            np.clip(returned / np.maximum(spend, 1.0), 0.0, 1.0),
            categories,
            home,
        ]
    )
    return Snapshot(customers, values)


def bought_within(history: History, customers: list[str], cutoff: datetime) -> np.ndarray:
    """1 for each customer who ordered in the ``HORIZON_DAYS`` from ``cutoff``, else 0."""
    start = np.datetime64(int(cutoff.timestamp()), "s")
    end = np.datetime64(int((cutoff + timedelta(days=HORIZON_DAYS)).timestamp()), "s")
    window = (history.order_time >= start) & (history.order_time < end)
    buyers = set(history.order_customer[window].tolist())
    return np.array([c in buyers for c in customers], dtype=int)
