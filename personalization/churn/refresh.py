"""Re-fit the churn model on the latest complete 90 days and score every customer."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from personalization.churn.features import load_history, snapshot
from personalization.churn.model import NotEnoughHistory, fit_at, latest_training_cutoff
from personalization.churn.repository import ChurnScores
from personalization.churn.retention import HIGH_RISK
from personalization.store import Database


def refresh(db: Database, as_of: datetime) -> dict[str, Any]:
    """Fit on what was known 90 days before ``as_of`` and who bought since; score everyone as
    of ``as_of``. With too little history the stored scores are left as they were."""
    history = load_history(db)
    if len(history.order_time) == 0:
        return {"skipped": "no orders"}
    cutoff = latest_training_cutoff(as_of)
    try:
        model, fitted, churned = fit_at(history, cutoff)
    except NotEnoughHistory as exc:
        return {"skipped": str(exc)}
    now = snapshot(history, as_of)
    risks = model.risk(now.values)
    rows = [
        (customer, float(risk), [f.as_dict() for f in model.factors(values)])
        for customer, risk, values in zip(now.customers, risks, now.values, strict=True)
    ]
    stored = ChurnScores(db).replace_all(rows, cutoff.date(), datetime.now(timezone.utc))
    return {
        "fitted_on": {
            "cutoff": cutoff.date().isoformat(),
            "customers": len(fitted.customers),
            "churn_rate": round(float(churned.mean()), 3),
        },
        "customers_scored": stored,
        "high_risk": int((risks >= HIGH_RISK).sum()),
        "median_risk": round(float(np.median(risks)), 3) if len(risks) else None,
    }
