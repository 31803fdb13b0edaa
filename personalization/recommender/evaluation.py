"""Offline evaluation of product recommendations on a temporal split.

Purchases before the split date train every model; purchases from that date on are the test.
A customer's truth is the products they bought in the test period and had not bought before,
since recommending what they already own is no help. Customers with purchases before the
split are "warm"; those without are "cold". All models are scored on the same users, the
same candidate items (products sold before the split) and the same metrics:
precision@10, recall@10, NDCG@10, AUC and catalogue coverage of the top-10 lists.

Baselines: popularity, item-kNN (cosine) and implicit ALS, as the classic references. Our
model weights purchases by recency and blends in the shop's recent trend, so two stronger
references use the same signals: ALS on recency-weighted purchases, and the trend alone
(customers who bought each product in the last 14 days). Our model is the hybrid LightFM
(WARP) of ``model.py``. Baselines without features answer cold customers with popularity.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from personalization.recommender.data import SplitData
from personalization.recommender.model import HybridModel, Params, tune_blend

log = logging.getLogger(__name__)

K = 10


class Recommender(Protocol):
    name: str

    def fit(self, data: SplitData) -> None: ...

    def scores(self, users: list[int]) -> np.ndarray: ...


class Popularity:
    name = "popularity"

    def fit(self, data: SplitData) -> None:
        buyers = (data.history.matrix() > 0).sum(axis=0)
        self._popularity = np.asarray(buyers).ravel().astype(np.float32)

    def scores(self, users: list[int]) -> np.ndarray:
        return np.tile(self._popularity, (len(users), 1))


class TrendPopularity:
    """What most customers bought in the last days before the split."""

    def __init__(self, window_days: int = 14) -> None:
        self._window = window_days
        self.name = f"trend ({window_days} days)"

    def fit(self, data: SplitData) -> None:
        self._popularity = data.history.recent_buyers(self._window)

    def scores(self, users: list[int]) -> np.ndarray:
        return np.tile(self._popularity, (len(users), 1))


class _ColdStartFallback:
    """Popularity for customers without purchases, for models that know only purchases."""

    def __init__(self, data: SplitData) -> None:
        self._purchases = np.asarray(data.history.matrix().sum(axis=1)).ravel()
        self._popularity = Popularity()
        self._popularity.fit(data)

    def apply(self, scores: np.ndarray, users: list[int]) -> np.ndarray:
        cold = self._purchases[users] == 0
        if cold.any():
            scores[cold] = self._popularity.scores([0])[0]
        return scores


class ItemKnn:
    name = "item-kNN"

    def fit(self, data: SplitData) -> None:
        binary = (data.history.matrix() > 0).astype(np.float32)
        norms = np.sqrt(np.asarray(binary.multiply(binary).sum(axis=0)).ravel()) + 1e-9
        normalised = binary.multiply(1 / norms).tocsc()
        similarity = (normalised.T @ normalised).toarray()
        np.fill_diagonal(similarity, 0.0)
        self._similarity = similarity
        self._binary = binary.tocsr()
        self._fallback = _ColdStartFallback(data)

    def scores(self, users: list[int]) -> np.ndarray:
        return self._fallback.apply(np.asarray(self._binary[users] @ self._similarity), users)


class ImplicitAls:
    def __init__(
        self,
        factors: int = 64,
        iterations: int = 20,
        seed: int = 42,
        half_life_days: float | None = None,
    ) -> None:
        self._factors, self._iterations, self._seed = factors, iterations, seed
        self._half_life = half_life_days
        self.name = "implicit ALS"
        if half_life_days is not None:
            self.name += f", recency-weighted ({half_life_days:g} days)"

    def fit(self, data: SplitData) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import bm25_weight
        from threadpoolctl import threadpool_limits

        purchases = data.history.matrix()
        if self._half_life is not None:
            purchases = purchases.multiply(data.history.matrix(self._half_life)).tocsr()
        weighted = bm25_weight(purchases, K1=100, B=0.8).tocsr().astype(np.float32)
        # implicit parallelises itself; a multi-threaded BLAS underneath only thrashes.
        with threadpool_limits(1, "blas"):
            self._model = AlternatingLeastSquares(
                factors=self._factors,
                regularization=0.05,
                iterations=self._iterations,
                random_state=self._seed,
            )
            self._model.fit(weighted, show_progress=False)
        self._fallback = _ColdStartFallback(data)

    def scores(self, users: list[int]) -> np.ndarray:
        result = self._model.user_factors[users] @ self._model.item_factors.T
        return self._fallback.apply(np.asarray(result), users)


@dataclass
class HybridLightFm:
    """Our model; the trend blend is tuned on the last month before the split."""

    name: str = "LightFM hybrid (ours)"
    params: Params = field(default_factory=Params)
    tune: bool = True
    tuning_curve: list[dict[str, Any]] = field(default_factory=list, init=False)

    def fit(self, data: SplitData) -> None:
        params = self.params
        if self.tune:
            params, self.tuning_curve = tune_blend(data.history, params, ndcg_at_k)
        self._model = HybridModel.fit(data.history, params)
        self.chosen = params

    def scores(self, users: list[int]) -> np.ndarray:
        return self._model.scores_for_users(users)


def _top_k(scores: np.ndarray, owned: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's top-K items among those they did not buy, best first, and the scores
    with bought items at -inf."""
    scores = scores.astype(np.float64, copy=True)
    rows, columns = owned.nonzero()
    scores[rows, columns] = -np.inf
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), scores


_DISCOUNTS = 1 / np.log2(np.arange(2, K + 2))


def _hits(top: np.ndarray, truth: list[set[int]]) -> np.ndarray:
    return np.array(
        [
            [item in positives for item in row]
            for row, positives in zip(top.tolist(), truth, strict=True)
        ],
        dtype=bool,
    ).reshape(len(truth), K)


def _ndcg(hits: np.ndarray, truth: list[set[int]]) -> np.ndarray:
    ideal = np.array([_DISCOUNTS[: min(len(p), K)].sum() for p in truth])
    return (hits * _DISCOUNTS).sum(axis=1) / ideal


def _metrics(scores: np.ndarray, owned: sp.csr_matrix, truth: list[set[int]]) -> dict[str, Any]:
    top, masked = _top_k(scores, owned)
    hits = _hits(top, truth)
    sizes = np.array([len(p) for p in truth])
    auc = []
    for user_scores, positives in zip(masked, truth, strict=True):
        candidates = np.flatnonzero(np.isfinite(user_scores))
        ranks = rankdata(user_scores[candidates])
        is_positive = np.isin(candidates, list(positives))
        n_pos, n_neg = is_positive.sum(), len(candidates) - is_positive.sum()
        if n_pos and n_neg:
            auc.append((ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    empty = not len(truth)
    return {
        "users": len(truth),
        "precision@10": math.nan if empty else float(np.mean(hits.sum(axis=1) / K)),
        "recall@10": math.nan if empty else float(np.mean(hits.sum(axis=1) / sizes)),
        "ndcg@10": math.nan if empty else float(np.mean(_ndcg(hits, truth))),
        "auc": float(np.mean(auc)) if auc else math.nan,
        "coverage": len(np.unique(top)) / owned.shape[1],
    }


def ndcg_at_k(scores: np.ndarray, owned: sp.csr_matrix, truth: list[set[int]]) -> float:
    """The mean NDCG@10 alone, without the AUC's full ranking: what tuning calls, many times."""
    if not truth:
        return math.nan
    top, _ = _top_k(scores, owned)
    return float(np.mean(_ndcg(_hits(top, truth), truth)))


def evaluate_models(data: SplitData, models: list[Recommender]) -> list[dict[str, Any]]:
    rows = []
    groups = {"warm": data.warm_users(), "cold": data.cold_users()}
    bought = data.history.matrix()
    for model in models:
        started = time.monotonic()
        model.fit(data)
        fit_seconds = time.monotonic() - started
        for group, users in groups.items():
            if not users:
                continue
            scores = model.scores(users)
            owned = bought[users]
            result = _metrics(scores, owned, [data.truth[u] for u in users])
            rows.append(
                {
                    "model": model.name,
                    "customers": group,
                    "fit_seconds": round(fit_seconds, 1),
                    **result,
                }
            )
    return rows


def default_models() -> list[Recommender]:
    return [
        Popularity(),
        ItemKnn(),
        ImplicitAls(),
        TrendPopularity(),
        ImplicitAls(half_life_days=60),
        HybridLightFm(),
    ]
