"""Everything a conversation needs to know about a customer, read in one round trip.

The assistant loads this at session start: who they are, their segment and service tier,
whether they allow personalization, the tone they prefer, and their open orders. Tiers are
the segment names a support agent acts on: "vip" customers get the most generous treatment,
"lapsed" ones a warm welcome back, "new" ones extra guidance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from personalization.churn.retention import keep_close
from personalization.store import Database

_TIERS = {
    "Champions": "vip",
    "Loyal": "regular",
    "Potential loyalist": "regular",
    "New": "new",
    "At risk": "lapsed",
    "Hibernating": "lapsed",
    "Lost": "lapsed",
}
OPEN_STATUSES = ("placed", "shipped")


def tier_for(segment: str | None, m_score: int | None = None) -> str:
    """Service tier of a segment; a top spender is treated as VIP whatever their recency."""
    if m_score == 5 and segment in ("Loyal", "At risk"):
        return "vip"
    if segment is None:
        return "prospect"  # a profile without orders
    return _TIERS.get(segment, "regular")


@dataclass(frozen=True)
class OpenOrder:
    id: str
    status: str
    ordered_on: date
    expected_delivery: date | None
    total: float


@dataclass(frozen=True)
class CustomerContext:
    customer_id: str
    display_name: str | None
    segment: str | None
    tier: str
    personalization_allowed: bool
    tone: str
    open_orders: tuple[OpenOrder, ...]
    interests: tuple[str, ...] = ()
    budget: float | None = None
    churn_risk: float | None = None  # P(no order in the next 90 days), personalization churn
    m_score: int | None = None

    @property
    def keep_close(self) -> bool:
        """A valuable customer at high churn risk (personalization.churn.retention)."""
        return keep_close(self.churn_risk, self.m_score)

    @property
    def first_name(self) -> str | None:
        if not self.display_name or not self.display_name.strip():
            return None
        return self.display_name.split()[0]

    def as_slots(self) -> dict[str, Any]:
        """Slot values; without consent only what is needed to serve the customer at all."""
        personal = self.personalization_allowed
        return {
            "customer_id": self.customer_id,
            "customer_name": self.first_name if personal else None,
            "customer_known": True,
            "customer_segment": self.segment if personal else None,
            "customer_tier": self.tier if personal else None,
            "customer_at_risk": personal and self.keep_close,
            "personalization_allowed": personal,
            "preferred_tone": self.tone if personal else None,
            "needs_onboarding": personal
            and self.tier in ("new", "prospect")
            and not self.interests,
            "open_orders": [
                {
                    "id": o.id,
                    "status": o.status,
                    "ordered_on": o.ordered_on.isoformat(),
                    "expected_delivery": o.expected_delivery.isoformat()
                    if o.expected_delivery
                    else None,
                }
                for o in self.open_orders
            ],
        }


def profile_row(cur: Any, customer_id: str) -> dict[str, Any] | None:
    """Profile, segment and consent of one customer, by one indexed lookup per table."""
    cur.execute(
        """SELECT c.id, c.display_name, c.country, c.preferences, s.segment, s.m_score,
                  coalesce(k.personalization, true) AS allowed, r.risk AS churn_risk
           FROM customers c
           LEFT JOIN segment_assignments s ON s.customer_id = c.id
           LEFT JOIN churn_scores r ON r.customer_id = c.id
           LEFT JOIN consents k ON k.customer_id = c.id
           WHERE c.id = %s""",
        (customer_id,),
    )
    return cur.fetchone()


class ProfileReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    def context(self, customer_id: str) -> CustomerContext | None:
        with self._db.cursor() as cur:
            row = profile_row(cur, customer_id)
            if row is None:
                return None
            cur.execute(
                """SELECT id, status, ordered_at, expected_delivery, total FROM orders
                   WHERE customer_id = %s AND status = ANY(%s)
                   ORDER BY ordered_at DESC LIMIT 3""",
                (customer_id, list(OPEN_STATUSES)),
            )
            orders = tuple(
                OpenOrder(
                    r["id"],
                    r["status"],
                    r["ordered_at"].date(),
                    r["expected_delivery"],
                    float(r["total"]),
                )
                for r in cur.fetchall()
            )
        preferences = row["preferences"] or {}
        return CustomerContext(
            customer_id=row["id"],
            display_name=row["display_name"],
            segment=row["segment"],
            tier=tier_for(row["segment"], row["m_score"]),
            personalization_allowed=bool(row["allowed"]),
            tone=preferences.get("tone")
            if preferences.get("tone") in ("formal", "casual")
            else "casual",
            open_orders=orders,
            interests=tuple(str(i) for i in preferences.get("interests") or ()),
            budget=float(preferences["budget"])
            if isinstance(preferences.get("budget"), (int, float))
            else None,
            churn_risk=float(row["churn_risk"]) if row["churn_risk"] is not None else None,
            m_score=row["m_score"],
        )
