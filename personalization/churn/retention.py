"""Who support should keep: a valuable customer at high churn risk.

Valuable means a spend in the top two quintiles (M score 4 or 5); high risk means the model
gives at least even odds, plus a margin, that they will not order in the next 90 days. Such a
customer's hand-off ticket gets high priority, and a late order earns them one more point
of the existing apology scale (support.apology), never a voucher outside it.
"""

from __future__ import annotations

HIGH_RISK = 0.6
VALUABLE_M_SCORE = 4


def keep_close(risk: float | None, m_score: int | None) -> bool:
    return risk is not None and risk >= HIGH_RISK and (m_score or 0) >= VALUABLE_M_SCORE
