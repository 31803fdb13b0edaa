"""The churn model: logistic regression on the customer's order history, explained per customer.

Gradient boosting was measured beside it on the same temporal split and did no better
(docs/cli.md, "Churn risk"); a linear model's score splits exactly into one contribution per
feature, which is what lets support see *why* a customer is at risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from personalization.churn.features import (
    DESCRIPTIONS,
    FEATURES,
    HORIZON_DAYS,
    History,
    Snapshot,
    bought_within,
    snapshot,
)

# Features that are counts, money or days enter as log(1 + x): a tenth order says less
# than a second one. The share returned and the home-country flag are already on 0-1.
_LINEAR = {"returned_share", "in_home_country"}
_LOG_COLUMNS = np.array([name not in _LINEAR for name in FEATURES])
REGULARISATION_C = 1.0
MIN_CUSTOMERS = 20


class NotEnoughHistory(ValueError):
    """Too few customers, or only one outcome, before the cut-off to learn from."""


def transform(values: np.ndarray) -> np.ndarray:
    out = values.astype(float).copy()
    out[:, _LOG_COLUMNS] = np.log1p(np.maximum(out[:, _LOG_COLUMNS], 0.0))
    return out


@dataclass(frozen=True)
class Factor:
    feature: str
    value: float
    contribution: float  # to the log-odds of churn, against the average customer

    @property
    def description(self) -> str:
        direction = "raises" if self.contribution > 0 else "lowers"
        return f"{DESCRIPTIONS[self.feature]}: {self.value:,.4g} ({direction} the risk)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "value": round(self.value, 2),
            "contribution": round(self.contribution, 3),
            "description": self.description,
        }


@dataclass
class ChurnModel:
    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    intercept: float
    fitted_at_cutoff: datetime

    @classmethod
    def fit(cls, values: np.ndarray, churned: np.ndarray, cutoff: datetime) -> ChurnModel:
        from sklearn.linear_model import LogisticRegression

        if len(churned) < MIN_CUSTOMERS or len(set(churned.tolist())) < 2:
            raise NotEnoughHistory(
                f"{len(churned)} customers with orders before {cutoff.date()} and "
                f"{int(churned.sum())} who did not buy again: too few to learn churn from"
            )
        x = transform(values)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        classifier = LogisticRegression(C=REGULARISATION_C, max_iter=2000).fit(
            (x - mean) / scale, churned
        )
        return cls(mean, scale, classifier.coef_[0], float(classifier.intercept_[0]), cutoff)

    def _standardised(self, values: np.ndarray) -> np.ndarray:
        return (transform(values) - self.mean) / self.scale

    def risk(self, values: np.ndarray) -> np.ndarray:
        """P(no order in the next 90 days), one per row."""
        logits = self._standardised(values) @ self.coefficients + self.intercept
        return 1 / (1 + np.exp(-logits))

    def factors(self, row: np.ndarray, top: int = 3) -> list[Factor]:
        """The features that move this customer's risk most, largest first."""
        contributions = self._standardised(row[None, :])[0] * self.coefficients
        order = np.argsort(-np.abs(contributions))[:top]
        return [Factor(FEATURES[i], float(row[i]), float(contributions[i])) for i in order]

    def summary(self) -> dict[str, Any]:
        return {
            "fitted_at_cutoff": self.fitted_at_cutoff.date().isoformat(),
            "coefficients": {
                name: round(float(c), 3)
                for name, c in sorted(
                    zip(FEATURES, self.coefficients, strict=True), key=lambda p: -abs(p[1])
                )
            },
        }


def fit_at(history: History, cutoff: datetime) -> tuple[ChurnModel, Snapshot, np.ndarray]:
    """A model fitted on what was known at ``cutoff`` and who bought in the 90 days after."""
    known = snapshot(history, cutoff)
    churned = 1 - bought_within(history, known.customers, cutoff)
    return ChurnModel.fit(known.values, churned, cutoff), known, churned


def latest_training_cutoff(as_of: datetime) -> datetime:
    """The latest cut-off whose 90 days of outcome are complete at ``as_of``."""
    return as_of - timedelta(days=HORIZON_DAYS)
