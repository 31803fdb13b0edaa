"""Order look-ups for the conversation: where an order is, when it arrives, and whether it is late.

Order numbers come from customers' typing, so they are normalised first ("demo 0001 14",
"#536365"), and an order is only ever shown to the customer who placed it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from personalization.store import Database

_DEMO = re.compile(r"^DEMO[\s_-]*(\d{4})[\s_-]*(\d{1,3})$")
_INVOICE = re.compile(r"^C?\d{6}$")


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


class OrderRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def for_customer(self, order_id: str, customer_id: str) -> Order | None:
        """The order if it exists and belongs to this customer; None otherwise (no leak)."""
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT id, customer_id, status, ordered_at, expected_delivery, total
                   FROM orders WHERE id = %s AND customer_id = %s""",
                (order_id, customer_id),
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                """SELECT l.line_no, l.stock_code, coalesce(p.description, l.stock_code) AS d,
                          l.quantity, l.unit_price
                   FROM order_lines l LEFT JOIN products p ON p.stock_code = l.stock_code
                   WHERE l.order_id = %s ORDER BY l.line_no""",
                (order_id,),
            )
            lines = tuple(
                OrderLine(
                    r["line_no"], r["stock_code"], r["d"], r["quantity"], float(r["unit_price"])
                )
                for r in cur.fetchall()
            )
        return Order(
            row["id"],
            row["customer_id"],
            row["status"],
            row["ordered_at"].date(),
            row["expected_delivery"],
            float(row["total"]),
            lines,
        )

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
