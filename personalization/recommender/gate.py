"""Gated retraining: a new recommender goes live only if it is not worse than the current one.

Both are judged on the same time-based holdout: the purchases of the last `holdout_days`
(customers' first purchases of a product, as in `personalization evaluate`). The current
model was fitted on data that includes part of that holdout, so scoring it as it is would
flatter it; its configuration (parameters and chosen trend blend) is refitted on the same
history as the candidate instead. The candidate is tuned afresh on that history, the way
`personalization train` tunes. Only if it is not worse, warm and cold customers each within
`tolerance`, is it trained on every order and switched in; otherwise the current model stays
and the decision says why.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from personalization.recommender.cache import RecommendationCache
from personalization.recommender.data import SplitData, load_split
from personalization.recommender.evaluation import HybridLightFm, evaluate_models
from personalization.recommender.model import Params
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.training import train
from personalization.store import Database

log = logging.getLogger(__name__)

HOLDOUT_DAYS = 30
#: Relative NDCG@10 a candidate may lose and still count as "not worse": two fits of the same
#: configuration on the same data differ by about this much.
TOLERANCE = 0.01


@dataclass
class GateDecision:
    promoted: bool
    reason: str
    holdout_from: datetime
    holdout_customers: dict[str, int]
    candidate: dict[str, float]
    current: dict[str, float] | None
    current_version: str | None
    new_version: str | None = None
    seconds: float = 0.0
    candidate_params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "reason": self.reason,
            "holdout_from": self.holdout_from.isoformat(),
            "holdout_customers": self.holdout_customers,
            "candidate_ndcg@10": self.candidate,
            "current_ndcg@10": self.current,
            "current_version": self.current_version,
            "new_version": self.new_version,
            "seconds": round(self.seconds, 1),
        }


def latest_order(db: Database) -> datetime:
    with db.cursor() as cur:
        cur.execute("SELECT max(ordered_at) AS latest FROM orders")
        latest = cur.fetchone()["latest"]
    if latest is None:
        raise ValueError("there are no orders to train on")
    return latest


def holdout_scores(split: SplitData, model: HybridLightFm) -> dict[str, float]:
    """NDCG@10 per customer group (warm: bought before the holdout; cold: did not)."""
    return {row["customers"]: row["ndcg@10"] for row in evaluate_models(split, [model])}


def retrain(
    db: Database,
    registry: ModelRegistry,
    cache: RecommendationCache | None = None,
    holdout_days: int = HOLDOUT_DAYS,
    tolerance: float = TOLERANCE,
    params: Params | None = None,
) -> GateDecision:
    started = time.monotonic()
    holdout_from = latest_order(db) - timedelta(days=holdout_days)
    split = load_split(db, holdout_from)
    if not split.truth:
        raise ValueError(f"no new purchases since {holdout_from.date()} to judge a model on")
    groups = {"warm": len(split.warm_users()), "cold": len(split.cold_users())}
    candidate_model = HybridLightFm(params=params or Params(), tune=True)
    candidate = holdout_scores(split, candidate_model)
    current_version = registry.current_version()
    current: dict[str, float] | None = None
    if current_version is None:
        promoted, reason = True, "no model is active yet"
    else:
        stored = registry.metadata(current_version).get("params") or {}
        current_config = Params(**{k: v for k, v in stored.items() if k in Params().as_dict()})
        if "similarity_weight" not in stored:  # a version from before the item-to-item blend
            current_config = replace(current_config, similarity_weight=0.0)
        current = holdout_scores(split, HybridLightFm(params=current_config, tune=False))
        promoted, reason = judge(candidate, current, tolerance)
    decision = GateDecision(
        promoted,
        reason,
        holdout_from,
        groups,
        candidate,
        current,
        current_version,
        candidate_params=candidate_model.chosen.as_dict(),
    )
    if promoted:
        report = train(db, registry, cache, params=candidate_model.chosen, tune=False)
        decision.new_version = report.version
    log.info("retrain: %s (%s)", "promoted" if promoted else "kept the current model", reason)
    decision.seconds = time.monotonic() - started
    return decision


def judge(
    candidate: dict[str, float], current: dict[str, float], tolerance: float
) -> tuple[bool, str]:
    """Promote only if no customer group loses more than ``tolerance`` of its NDCG@10."""
    worse = []
    for group, before in current.items():
        after = candidate.get(group, math.nan)
        if math.isnan(before):
            continue
        if math.isnan(after) or after < before * (1 - tolerance):
            worse.append(f"{group} customers {after:.4f} against {before:.4f}")
    if worse:
        return False, "the candidate is worse on the holdout: " + "; ".join(worse)
    summary = ", ".join(
        f"{group} {candidate[group]:.4f} against {current[group]:.4f}"
        for group in current
        if group in candidate
    )
    return True, f"not worse on the holdout (NDCG@10 {summary})"
