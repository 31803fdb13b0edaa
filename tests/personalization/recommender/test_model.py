"""The hybrid model on purchases whose structure the test controls."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pytest

from personalization.recommender.evaluation import ndcg_at_k
from personalization.recommender.model import HybridModel, Params, Purchases, tune_blend

pytestmark = pytest.mark.fast

REFERENCE = datetime(2026, 10, 1, tzinfo=timezone.utc)
CANDLES = [f"CANDLE{i}" for i in range(6)]
MUGS = [f"MUG{i}" for i in range(6)]
SMALL = Params(components=8, epochs=30, threads=1)


def two_tastes(customers: int = 40, seed: int = 1) -> Purchases:
    """Even customers buy mugs, odd ones candles; MUG5 and CANDLE5 sell in the last fortnight."""
    rng = np.random.default_rng(seed)
    items = CANDLES + MUGS
    users, item_idx, days = [], [], []
    for u in range(customers):
        taste = CANDLES if u % 2 else MUGS
        for code in rng.choice(taste[:5], size=3, replace=False):
            users.append(u)
            item_idx.append(items.index(code))
            days.append(float(rng.integers(30, 200)))
        if u % 8 < 4:
            users.append(u)
            item_idx.append(items.index(taste[5]))
            days.append(2.0 if u % 8 < 2 else 9.0)
    features = [["country:France" if u % 2 else "country:Germany"] for u in range(customers)]
    return Purchases(
        users=[f"cust-{u:03d}" for u in range(customers)],
        items=items,
        user_idx=np.array(users, dtype=np.int32),
        item_idx=np.array(item_idx, dtype=np.int32),
        days_before=np.array(days, dtype=np.float32),
        user_features=features,
        item_features=[[f"word:{c[:-1].lower()}"] for c in items],
        reference=REFERENCE,
    )


def test_recency_weight_keeps_the_latest_purchase_of_a_pair() -> None:
    purchases = Purchases(
        users=["a"],
        items=["x", "y"],
        user_idx=np.array([0, 0, 0]),
        item_idx=np.array([0, 0, 1]),
        days_before=np.array([60.0, 0.0, 120.0], dtype=np.float32),
        user_features=[[]],
        item_features=[[], []],
        reference=REFERENCE,
    )
    weights = purchases.matrix(half_life_days=60).toarray()
    assert weights[0, 0] == pytest.approx(1.0), "bought today: full weight"
    assert weights[0, 1] == pytest.approx(0.25), "two half-lives ago"
    assert purchases.matrix().toarray().tolist() == [[2.0, 1.0]], "counts without decay"


def test_recent_buyers_and_the_validation_cut() -> None:
    purchases = two_tastes()
    recent = purchases.recent_buyers(7)
    assert recent[purchases.items.index("MUG5")] == 5
    assert purchases.recent_buyers(14)[purchases.items.index("MUG5")] == 10
    assert recent[purchases.items.index("MUG0")] == 0
    history, truth = purchases.before(7)
    assert history.reference == datetime(2026, 9, 24, tzinfo=timezone.utc)
    assert history.days_before.min() > 0
    assert all(truth[u] <= {purchases.items.index(c) for c in ("MUG5", "CANDLE5")} for u in truth)


def test_the_model_learns_tastes_and_never_recommends_what_was_bought() -> None:
    model = HybridModel.fit(two_tastes(), replace(SMALL, trend_weight=0.0))
    candle_buyer, mug_buyer = "cust-001", "cust-002"
    top, source = model.top_items(candle_buyer, [], 2)  # the two candles they do not own
    assert source == "model"
    assert all(code.startswith("CANDLE") for code in top), top
    owned = {model.items[i] for i in model.owned[model.users.index(mug_buyer)].indices}
    top, _ = model.top_items(mug_buyer, [], 6)
    assert not owned & set(top)


def test_an_unseen_customer_is_scored_from_features_or_not_at_all() -> None:
    model = HybridModel.fit(two_tastes(), SMALL)
    found = model.top_items("cust-new", ["country:France", "segment:unknown-to-model"], 4)
    assert found is not None and found[1] == "features" and len(found[0]) == 4
    assert model.top_items("cust-new", ["country:Atlantis"], 4) is None


def test_forgetting_a_customer_removes_their_row_and_identity() -> None:
    model = HybridModel.fit(two_tastes(), SMALL)
    pruned = model.without_customer("cust-003")
    assert pruned is not None and not pruned.knows("cust-003") and pruned.knows("cust-004")
    assert pruned.user_features.shape[0] == len(model.users) - 1
    assert not pruned.user_embeddings[3].any()
    assert model.knows("cust-003"), "the original is untouched"
    assert pruned.without_customer("cust-003") is None


def test_trend_tuning_picks_a_blend_on_the_validation_month() -> None:
    purchases = two_tastes(customers=80)
    tuned, curve = tune_blend(purchases, SMALL, ndcg_at_k, validation_days=7)
    assert curve, "80 customers with a week of new purchases are enough to tune"
    warm = [r for r in curve if r["customers"] == "warm"]
    best = max(warm, key=lambda r: r["ndcg@10"])
    assert (tuned.trend_half_life_days, tuned.trend_weight) == (
        best["half_life_days"],
        best["weight"],
    )
    assert tuned.similarity_weight == best["similarity_weight"]
    grid = {(r["similarity_weight"], r["half_life_days"], r["weight"]) for r in warm}
    assert len(grid) == len(warm) == 4 * 3 * 8, "every blend of the grid, once"
    # The week's new purchases are the fortnight's best sellers, bought with the customer's
    # own kind of product: recency (trend or recency-weighted neighbours) finds them.
    assert best["ndcg@10"] >= 0.9


def test_fitting_reports_every_epoch() -> None:
    seen: list[tuple[int, int]] = []
    HybridModel.fit(two_tastes(), SMALL, on_epoch=lambda done, total: seen.append((done, total)))
    assert seen == [(n, SMALL.epochs) for n in range(1, SMALL.epochs + 1)]
