"""Gated retraining on the demo shop: the candidate goes live only if it is not worse."""

from __future__ import annotations

from dataclasses import replace

import pytest

from personalization.recommender.cache import RecommendationCache
from personalization.recommender.gate import judge, retrain
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.training import train
from personalization.store import Database
from tests.personalization.recommender.conftest import FAST


def test_the_first_model_is_promoted_and_switched_in(
    shop: Database, registry: ModelRegistry, cache: RecommendationCache
) -> None:
    cache.put("old-version", "cust-0001", {"items": []})
    decision = retrain(shop, registry, cache, params=FAST)
    assert decision.promoted and decision.reason == "no model is active yet"
    assert registry.current_version() == decision.new_version
    assert cache.get("old-version", "cust-0001") is None, "lists of other versions dropped"
    assert decision.candidate["warm"] > 0
    assert sum(decision.holdout_customers.values()) > 0


def test_a_worse_candidate_is_not_switched_in_and_the_reason_says_why(
    shop: Database, registry: ModelRegistry
) -> None:
    current = train(shop, registry, params=FAST, tune=False).version
    # Ranking by *least* bought recently: clearly worse than the current configuration.
    backwards = replace(FAST, trend_weight=-8.0, cold_trend_weight=-8.0, epochs=1)
    decision = retrain(shop, registry, params=backwards, tolerance=0.0)
    assert not decision.promoted
    assert decision.reason.startswith("the candidate is worse on the holdout: ")
    assert registry.current_version() == current and decision.new_version is None
    assert decision.current is not None


def test_judging_is_per_customer_group_within_the_tolerance() -> None:
    assert judge({"warm": 0.099, "cold": 0.2}, {"warm": 0.1, "cold": 0.2}, 0.02)[0]
    promoted, reason = judge({"warm": 0.12, "cold": 0.1}, {"warm": 0.1, "cold": 0.2}, 0.02)
    assert not promoted and "cold customers 0.1000 against 0.2000" in reason
    assert judge({"warm": 0.1}, {"warm": 0.1, "cold": float("nan")}, 0.0)[0]


def test_a_shop_without_new_purchases_is_a_clear_error(
    db: Database, registry: ModelRegistry
) -> None:
    with pytest.raises(ValueError, match="no orders"):
        retrain(db, registry)
