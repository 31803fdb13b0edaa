"""Order look-ups for the conversation: where an order is, when it arrives, and whether it is late.

Order numbers come from customers' typing, so they are normalised first ("demo 0001 14",
"#536365"), and an order is only ever shown to the customer who placed it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from personalization.store import Database

_DEMO = re.compile(r"^DEMO[\s_-]*(\d{4})[\s_-]*(\d{1,3})$")
_INVOICE = re.compile(r"^C?\d{6}$")
_NUMBER_ATTEMPT = re.compile(r"\bdemo|#\s*\d|\d{3,}", re.IGNORECASE)


def normalise_order_number(text: str | None) -> str | None:
    """The order id a customer means, or None if it cannot be an order number."""
    if not text:
        return None
    cleaned = text.strip().upper().lstrip("#").strip()
    cleaned = re.sub(r"^(ORDER|NO\.?|NUMBER)\s*", "", cleaned).strip()
    demo = _DEMO.match(cleaned)
    if demo:
        return f"DEMO-{demo.group(1)}-{int(demo.group(2)):02d}"
    if _INVOICE.match(cleaned):
        return cleaned
    return None


def tries_an_order_number(text: str | None) -> bool:
    """Whether the text is a go at an order number ("DEMO-12", "#5363"), even a wrong one:
    such an answer is told the number's shape, never read as the name of an item."""
    return bool(text and _NUMBER_ATTEMPT.search(text))


@dataclass(frozen=True)
class OrderLine:
    line_no: int
    stock_code: str
    description: str
    quantity: int
    unit_price: float


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    status: str
    ordered_on: date
    expected_delivery: date | None
    total: float
    lines: tuple[OrderLine, ...]

    def days_late(self, today: date) -> int:
        """Days past the promised delivery of an order that has not arrived; 0 if on time."""
        if self.status not in ("placed", "shipped") or self.expected_delivery is None:
            return 0
        return max(0, (today - self.expected_delivery).days)


_ORDER_COLUMNS = "id, customer_id, status, ordered_at, expected_delivery, total"


def _with_lines(cur: Any, rows: list[Any]) -> list[Order]:
    """The orders of ``rows`` (in that order), each with its lines, in one more query."""
    if not rows:
        return []
    cur.execute(
        """SELECT l.order_id, l.line_no, l.stock_code,
                  coalesce(p.description, l.stock_code) AS d, l.quantity, l.unit_price
           FROM order_lines l LEFT JOIN products p ON p.stock_code = l.stock_code
           WHERE l.order_id = ANY(%s) ORDER BY l.order_id, l.line_no""",
        ([r["id"] for r in rows],),
    )
    lines: dict[str, list[OrderLine]] = {}
    for r in cur.fetchall():
        lines.setdefault(r["order_id"], []).append(
            OrderLine(r["line_no"], r["stock_code"], r["d"], r["quantity"], float(r["unit_price"]))
        )
    return [
        Order(
            row["id"],
            row["customer_id"],
            row["status"],
            row["ordered_at"].date(),
            row["expected_delivery"],
            float(row["total"]),
            tuple(lines.get(row["id"], ())),
        )
        for row in rows
    ]


class OrderRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def for_customer(self, order_id: str, customer_id: str) -> Order | None:
        """The order if it exists and belongs to this customer; None otherwise (no leak)."""
        with self._db.cursor() as cur:
            cur.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = %s AND customer_id = %s",
                (order_id, customer_id),
            )
            rows = cur.fetchall()
            orders = _with_lines(cur, rows)
        return orders[0] if orders else None

    def recent(self, customer_id: str, limit: int = 20) -> list[Order]:
        """The customer's latest orders with their lines, newest first: what a customer who
        has no order number to hand can mean."""
        with self._db.cursor() as cur:
            cur.execute(
                f"""SELECT {_ORDER_COLUMNS} FROM orders WHERE customer_id = %s
                    ORDER BY ordered_at DESC, id DESC LIMIT %s""",
                (customer_id, limit),
            )
            return _with_lines(cur, cur.fetchall())

    def placed_between(
        self, customer_id: str, start: date, end: date, limit: int = 5
    ) -> list[tuple[str, date]]:
        """The customer's orders placed on those days (both included), newest first."""
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT id, ordered_at FROM orders
                   WHERE customer_id = %s AND ordered_at >= %s AND ordered_at < %s
                   ORDER BY ordered_at DESC LIMIT %s""",
                (customer_id, start, end + timedelta(days=1), limit),
            )
            return [(r["id"], r["ordered_at"].date()) for r in cur.fetchall()]

    def latest_ids(self, customer_id: str, limit: int = 3) -> list[str]:
        """The customer's most recent order numbers, to offer as buttons."""
        with self._db.cursor() as cur:
            cur.execute(
                "SELECT id FROM orders WHERE customer_id = %s ORDER BY ordered_at DESC LIMIT %s",
                (customer_id, limit),
            )
            return [r["id"] for r in cur.fetchall()]
