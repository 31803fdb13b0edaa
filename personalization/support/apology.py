"""How much to make up for a late order: more for a bigger delay, a valued customer, a bad mood.

The gesture is a small, explainable points system a support lead can tune: each of "late by
more than three days", "a VIP", "clearly upset" and "a valuable customer we may lose"
(churn.retention) adds a point. One point is an apology, two
add a goodwill voucher, three add a voucher twice the size and a person who chases the carrier.
"""

from __future__ import annotations

from dataclasses import dataclass

VOUCHER_SHARE = {2: 0.10, 3: 0.20}
VOUCHER_MIN, VOUCHER_MAX = 5.0, 50.0
UPSET_BELOW = -0.3


@dataclass(frozen=True)
class Gesture:
    level: str  # "none", "apology", "voucher" or "priority"
    voucher: float = 0.0

    @property
    def escalate(self) -> bool:
        return self.level == "priority"


def late_order_gesture(
    days_late: int, order_total: float, tier: str | None, mood: float, keep_close: bool = False
) -> Gesture:
    if days_late <= 0:
        return Gesture("none")
    points = 1 + (days_late > 3) + (tier == "vip") + (mood < UPSET_BELOW) + keep_close
    points = min(points, 3)
    if points == 1:
        return Gesture("apology")
    voucher = min(VOUCHER_MAX, max(VOUCHER_MIN, round(order_total * VOUCHER_SHARE[points], 2)))
    return Gesture("voucher" if points == 2 else "priority", voucher)
