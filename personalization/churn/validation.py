"""The temporal validation: fit at one date, test at a later one, against an RFM rule.

Fit on what was known on 2011-06-01 with the outcome June to August; test on what was known
on 2011-09-01 with the outcome September to November. The rule ranks customers by the sum of
their R, F and M quintile scores (low sum, high risk), with edges from the fitting date.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from personalization.churn.features import FEATURES, History, bought_within, snapshot
from personalization.churn.model import fit_at, transform
from personalization.segments import quintile_edges, score

FIT_CUTOFF = datetime(2011, 6, 1, tzinfo=timezone.utc)
TEST_CUTOFF = datetime(2011, 9, 1, tzinfo=timezone.utc)


def _rfm_rule(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    columns = {name: i for i, name in enumerate(FEATURES)}
    total = np.zeros(len(test))
    for name, higher_is_better in (("recency_days", False), ("orders", True), ("spend", True)):
        edges = quintile_edges(train[:, columns[name]])
        total += [score(v, edges, higher_is_better) for v in test[:, columns[name]]]
    return -total


def validate(
    history: History, fit_cutoff: datetime = FIT_CUTOFF, test_cutoff: datetime = TEST_CUTOFF
) -> dict[str, Any]:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import average_precision_score, roc_auc_score

    model, fitted, fitted_churn = fit_at(history, fit_cutoff)
    tested = snapshot(history, test_cutoff)
    churned = 1 - bought_within(history, tested.customers, test_cutoff)
    boosting = GradientBoostingClassifier(random_state=0).fit(
        transform(fitted.values), fitted_churn
    )
    risks = {
        "RFM rule (sum of quintile scores)": _rfm_rule(fitted.values, tested.values),
        "gradient boosting (scikit-learn)": boosting.predict_proba(transform(tested.values))[:, 1],
        "logistic regression (ours)": model.risk(tested.values),
    }
    rows = [
        {
            "model": name,
            "auc": round(float(roc_auc_score(churned, risk)), 4),
            "pr_auc": round(float(average_precision_score(churned, risk)), 4),
        }
        for name, risk in risks.items()
    ]
    return {
        "fit": {
            "cutoff": fit_cutoff.date().isoformat(),
            "customers": len(fitted.customers),
            "churn_rate": round(float(fitted_churn.mean()), 3),
        },
        "test": {
            "cutoff": test_cutoff.date().isoformat(),
            "customers": len(tested.customers),
            "churn_rate": round(float(churned.mean()), 3),
        },
        "rows": rows,
        "model": model.summary(),
    }
