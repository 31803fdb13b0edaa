"""Our product recommender: a hybrid LightFM (WARP) model blended with the shop's current trend.

Two findings on the shop's real orders shape it (figures in docs/cli.md):

* Tastes drift. Purchases are weighted by recency (half-life ``half_life_days``), so a
  customer's last season counts more than last year's.
* Demand is seasonal. What many customers bought in the last days before the reference
  date predicts the next weeks far better than all-time popularity. The model's score is
  standardised per customer and blended with a standardised log count of recent buyers. The
  window and weight of that blend are chosen on a validation month cut from the training
  data (``tune_blend``), never on the test period.

* Baskets repeat. Products bought together recently predict each other well, which a
  factor model of 64 dimensions smooths away. An item-to-item model (EASE, Steck 2019: a
  closed-form ridge regression of each product on the others, over recency-weighted
  purchases) keeps that detail; its standardised score joins the blend.

Customers the model has not seen are scored from their features (country, segment,
preferences) through the same factors, so cold start is personal where features allow. Every
blend weight is chosen on the validation month.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

VALIDATION_DAYS = 30
# Half-lives of the trend: each customer who bought a product counts 1 today, ½ one
# half-life ago. A decayed count follows a turning season more smoothly than a window.
TREND_HALF_LIVES = (3.0, 7.0, 14.0)
TREND_WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
# Cold customers have only features; the trend alone is the blend's limit, so it is tried too.
COLD_TREND_WEIGHTS = (*TREND_WEIGHTS, 30.0)
SIMILARITY_WEIGHTS = (0.0, 0.5, 1.0, 2.0)
# The item-to-item model inverts a products × products matrix: about 2 s and 0.5 GB at
# 4,000 products, cubic in time and square in memory beyond. A larger catalogue goes
# without it.
SIMILARITY_MAX_ITEMS = 8_000


@dataclass(frozen=True)
class Params:
    components: int = 64
    # 16 epochs with the item-to-item blend beat 60 without it, in a quarter of the time
    # (docs/cli.md, "Recommendations").
    epochs: int = 16
    learning_rate: float = 0.05
    max_sampled: int = 20  # as good as 50 on the shop's orders, and a tenth faster
    half_life_days: float = 60.0
    user_feature_weight: float = 0.1
    trend_half_life_days: float = 7.0
    trend_weight: float = 1.0
    cold_trend_weight: float = 3.0
    similarity_weight: float = 1.0
    similarity_half_life_days: float = 30.0
    similarity_ridge: float = 200.0
    similarity_neighbours: int = 300
    seed: int = 42
    threads: int = 2

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Purchases:
    """Who bought what and when, up to a reference time, with the features of both sides."""

    users: list[str]
    items: list[str]
    user_idx: np.ndarray  # one entry per purchased line
    item_idx: np.ndarray
    days_before: np.ndarray  # days between the purchase and ``reference``
    user_features: list[list[str]]
    item_features: list[list[str]]
    reference: datetime

    def matrix(self, half_life_days: float | None = None) -> sp.csr_matrix:
        """Users × items; a pair's weight is its most recent purchase's decay (or a count)."""
        shape = (len(self.users), len(self.items))
        if half_life_days is None:
            values = np.ones(len(self.user_idx), dtype=np.float32)
            return sp.csr_matrix((values, (self.user_idx, self.item_idx)), shape=shape)
        decay = np.power(0.5, self.days_before / half_life_days).astype(np.float32)
        coo = sp.coo_matrix((decay, (self.user_idx, self.item_idx)), shape=shape)
        # The most recent purchase of a pair carries its weight: max over duplicates.
        order = np.lexsort((-coo.data, coo.col, coo.row))
        rows, cols, data = coo.row[order], coo.col[order], coo.data[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        return sp.csr_matrix((data[first], (rows[first], cols[first])), shape=shape)

    def recent_buyers(self, window_days: int) -> np.ndarray:
        recent = self.days_before <= window_days
        pairs = np.unique(np.stack([self.user_idx[recent], self.item_idx[recent]]), axis=1)
        return np.bincount(pairs[1], minlength=len(self.items)).astype(np.float32)

    def before(self, days: int) -> tuple[Purchases, dict[int, set[int]]]:
        """The purchases older than ``days``, re-referenced, and the new items bought after."""
        old = self.days_before > days
        history = replace(
            self,
            user_idx=self.user_idx[old],
            item_idx=self.item_idx[old],
            days_before=self.days_before[old] - days,
            reference=self.reference - timedelta(days=days),
        )
        owned = {(u, i) for u, i in zip(history.user_idx, history.item_idx, strict=True)}
        truth: dict[int, set[int]] = {}
        for u, i in zip(self.user_idx[~old], self.item_idx[~old], strict=True):
            if (u, i) not in owned:
                truth.setdefault(int(u), set()).add(int(i))
        return history, truth


def _standardise(values: np.ndarray, axis: int = -1) -> np.ndarray:
    mean = values.mean(axis=axis, keepdims=True)
    std = values.std(axis=axis, keepdims=True)
    return (values - mean) / np.where(std > 0, std, 1.0)


def item_similarity(weighted: sp.csr_matrix, ridge: float, neighbours: int) -> sp.csr_matrix:
    """EASE's item-to-item weights, each product keeping its ``neighbours`` strongest sources.

    B = I - P·diag(1/diag(P)) with P = (XᵀX + ridge·I)⁻¹, which is the ridge regression of
    every product's column on all the others with a zero diagonal. Pruning keeps the model
    small (about 13 MB at 4,000 products) and did not cost accuracy on the shop's orders.
    """
    gram = (weighted.T @ weighted).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += ridge
    weights = np.linalg.inv(gram)
    del gram
    weights /= -np.diag(weights).copy()[None, :]
    np.fill_diagonal(weights, 0.0)
    keep = min(neighbours, weights.shape[0])
    if keep < weights.shape[0]:
        weakest = np.argpartition(-np.abs(weights), keep, axis=0)[keep:]
        np.put_along_axis(weights, weakest, 0.0, axis=0)
    return sp.csr_matrix(weights.astype(np.float32))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


@dataclass
class HybridModel:
    params: Params
    users: list[str]
    items: list[str]
    user_feature_names: dict[str, int]
    user_features: sp.csr_matrix
    user_embeddings: np.ndarray
    user_biases: np.ndarray
    item_vectors: np.ndarray
    item_bias: np.ndarray
    trend: np.ndarray  # standardised log recent buyers, one per item
    owned: sp.csr_matrix  # users × items bought
    fit_seconds: float = 0.0
    # Versions saved before the item-to-item blend load without it (None).
    recent: sp.csr_matrix | None = None  # users × items, recency-weighted for the similarity
    similarity: sp.csr_matrix | None = None  # items × items (EASE)
    _user_index: dict[str, int] = field(default_factory=dict, repr=False)
    _item_index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._user_index = {user: u for u, user in enumerate(self.users)}
        self._item_index = {item: i for i, item in enumerate(self.items)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Indexes are derived, so versions pickled before an index existed load too; so do
        # versions without the item-to-item blend.
        self.__dict__.update({"recent": None, "similarity": None, **state})
        self.__post_init__()

    @classmethod
    def fit(
        cls,
        purchases: Purchases,
        params: Params = Params(),
        on_epoch: Callable[[int, int], None] | None = None,
    ) -> HybridModel:
        """Fit the model; ``on_epoch(done, total)`` reports progress after each epoch."""
        from lightfm import LightFM
        from lightfm.data import Dataset

        started = time.monotonic()
        dataset = Dataset()
        dataset.fit(
            users=range(len(purchases.users)),
            items=range(len(purchases.items)),
            user_features={f for fs in purchases.user_features for f in fs},
            item_features={f for fs in purchases.item_features for f in fs},
        )
        weighted = purchases.matrix(params.half_life_days).tocoo()
        interactions, weights = dataset.build_interactions(
            zip(weighted.row.tolist(), weighted.col.tolist(), weighted.data.tolist(), strict=True)
        )
        user_features = dataset.build_user_features(
            (
                (u, {u: 1.0, **{f: params.user_feature_weight for f in fs}})
                for u, fs in enumerate(purchases.user_features)
            ),
            normalize=False,
        )
        item_features = dataset.build_item_features(enumerate(purchases.item_features))
        model = LightFM(
            loss="warp",
            no_components=params.components,
            learning_rate=params.learning_rate,
            item_alpha=1e-6,
            user_alpha=1e-6,
            max_sampled=params.max_sampled,
            random_state=params.seed,
        )
        for epoch in range(params.epochs):
            model.fit_partial(
                interactions,
                sample_weight=weights,
                user_features=user_features,
                item_features=item_features,
                epochs=1,
                num_threads=params.threads,
            )
            if on_epoch is not None:
                on_epoch(epoch + 1, params.epochs)
        item_bias, item_vectors = model.get_item_representations(item_features)
        _, user_feature_names, _, _ = dataset.mapping()
        recent, similarity = None, None
        if len(purchases.items) <= SIMILARITY_MAX_ITEMS:
            recent = purchases.matrix(params.similarity_half_life_days).tocsr()
            similarity = item_similarity(
                recent, params.similarity_ridge, params.similarity_neighbours
            )
        return cls(
            params=params,
            users=purchases.users,
            items=purchases.items,
            user_feature_names={k: v for k, v in user_feature_names.items() if isinstance(k, str)},
            user_features=user_features.tocsr(),
            user_embeddings=model.user_embeddings,
            user_biases=model.user_biases,
            item_vectors=item_vectors,
            item_bias=item_bias,
            trend=_trend(purchases, params.trend_half_life_days),
            owned=purchases.matrix().tocsr(),
            fit_seconds=time.monotonic() - started,
            recent=recent,
            similarity=similarity,
        )

    def without_customer(self, customer_id: str) -> HybridModel | None:
        """A copy that no longer holds the customer (erasure), or None if it never did."""
        u = self._user_index.get(customer_id)
        if u is None:
            return None
        keep = np.arange(len(self.users)) != u
        embeddings, biases = self.user_embeddings.copy(), self.user_biases.copy()
        embeddings[u], biases[u] = 0.0, 0.0  # the customer's identity feature is row u
        return replace(
            self,
            users=[user for user in self.users if user != customer_id],
            user_features=self.user_features[keep],
            user_embeddings=embeddings,
            user_biases=biases,
            owned=self.owned[keep],
            recent=self.recent[keep] if self.recent is not None else None,
        )

    def closest_owned(self, customer_id: str, codes: list[str]) -> dict[str, str]:
        """For each recommended item, the customer's own purchase it is most alike, in the
        model's item space: the "because you bought X" a customer can check for themselves."""
        u = self._user_index.get(customer_id)
        rows = [self._item_index[c] for c in codes if c in self._item_index]
        if u is None or not rows:
            return {}
        owned = self.owned[u].indices
        if len(owned) == 0:
            return {}
        similarity = _unit(self.item_vectors[rows]) @ _unit(self.item_vectors[owned]).T
        best = similarity.argmax(axis=1)
        return {
            self.items[row]: self.items[owned[b]]
            for row, b, s in zip(rows, best, similarity.max(axis=1), strict=True)
            if s > 0
        }

    def knows(self, customer_id: str) -> bool:
        return customer_id in self._user_index

    def known_features(self, features: list[str]) -> list[str]:
        return [f for f in features if f in self.user_feature_names]

    def _feature_rows(self, users: list[int], cold: np.ndarray) -> sp.csr_matrix:
        """Feature rows of customers; for cold ones only their named features, without the
        (untrained) identity column. Identity columns are every column that is not a named
        feature: after an erasure, row u no longer has identity column u."""
        rows = self.user_features[users].tocsr()
        if not cold.any():
            return rows
        named = np.zeros(rows.shape[1], dtype=np.float32)
        named[list(self.user_feature_names.values())] = 1.0
        keep = np.where(cold[:, None], named[None, :], 1.0)
        return sp.csr_matrix(rows.multiply(keep))

    def _score_rows(self, rows: sp.csr_matrix) -> np.ndarray:
        vectors = rows @ self.user_embeddings
        biases = rows @ self.user_biases
        return vectors @ self.item_vectors.T + self.item_bias[None, :] + biases[:, None]

    def similarity_scores(self, users: list[int]) -> np.ndarray:
        """The item-to-item model's standardised scores (zeros without purchases or model)."""
        if self.recent is None or self.similarity is None:
            return np.zeros((len(users), len(self.items)), dtype=np.float32)
        return _standardise((self.recent[users] @ self.similarity).toarray())

    def scores_for_users(self, users: list[int]) -> np.ndarray:
        """Scores of customers in the training data; those without purchases count as cold."""
        cold = np.asarray(self.owned[users].sum(axis=1)).ravel() == 0
        scores = _standardise(self._score_rows(self._feature_rows(users, cold)))
        warm = ~cold
        if warm.any():
            warm_rows = [u for u, is_warm in zip(users, warm, strict=True) if is_warm]
            scores[warm] += self.params.similarity_weight * self.similarity_scores(warm_rows)
            scores[warm] += self.params.trend_weight * self.trend[None, :]
        if cold.any():
            scores[cold] += self.params.cold_trend_weight * self.trend[None, :]
        return scores

    def scores_for_features(self, features: list[str]) -> np.ndarray | None:
        """Scores for a customer the model has not seen, or None if no feature is known."""
        columns = [self.user_feature_names[f] for f in self.known_features(features)]
        if not columns:
            return None
        weight = self.params.user_feature_weight
        row = sp.csr_matrix(
            (np.full(len(columns), weight, dtype=np.float32), ([0] * len(columns), columns)),
            shape=(1, self.user_features.shape[1]),
        )
        scores = _standardise(self._score_rows(row))[0]
        return scores + self.params.cold_trend_weight * self.trend

    def top_items(
        self, customer_id: str, features: list[str], n: int
    ) -> tuple[list[str], str] | None:
        """The top-n new items for a customer and how they were found, or None if unknown."""
        if customer_id in self._user_index:
            u = self._user_index[customer_id]
            scores = self.scores_for_users([u])[0]
            scores[self.owned[u].indices] = -np.inf
            source = "model"
        else:
            found = self.scores_for_features(features)
            if found is None:
                return None
            scores, source = found, "features"
        n = min(n, int(np.isfinite(scores).sum()))
        if n <= 0:
            return None
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [self.items[i] for i in top], source


def _trend(purchases: Purchases, half_life_days: float) -> np.ndarray:
    """Standardised log of each product's buyers, counted by how recently they bought it."""
    buyers = np.asarray(purchases.matrix(half_life_days).sum(axis=0)).ravel()
    return _standardise(np.log1p(buyers))


def tune_blend(
    purchases: Purchases,
    params: Params,
    score: Any,
    validation_days: int = VALIDATION_DAYS,
    on_epoch: Callable[[int, int], None] | None = None,
) -> tuple[Params, list[dict[str, Any]]]:
    """Choose the blend on the last ``validation_days`` of the training data: the item-to-item
    weight and the trend's half-life and weight on customers who bought before, then the
    trend's weight for cold customers. The half-life, how fast the shop's demand turns, is
    the same for both; it is chosen on the warm customers, who are many more.

    ``score(scores, owned, truth)`` returns the NDCG@10 of a scores matrix; it is passed in so
    that tuning and evaluation share one metric.
    """
    history, truth = purchases.before(validation_days)
    bought_before = np.asarray(history.matrix().sum(axis=1)).ravel() > 0
    groups = {
        "warm": sorted(u for u in truth if bought_before[u]),
        "cold": sorted(u for u in truth if not bought_before[u]),
    }
    if len(groups["warm"]) < 20:
        log.info("too few validation customers (%d) to tune the blend", len(groups["warm"]))
        return params, []
    model = HybridModel.fit(history, params, on_epoch)
    trends = {half_life: _trend(history, half_life) for half_life in TREND_HALF_LIVES}
    curve: list[dict[str, Any]] = []

    def scored(
        group: str,
        users: list[int],
        base: np.ndarray,
        half_lives: Any,
        weights: Any,
        similarity_weight: float,
    ) -> None:
        owned, truths = model.owned[users], [truth[u] for u in users]
        for half_life in half_lives:
            for weight in weights:
                curve.append(
                    {
                        "customers": group,
                        "similarity_weight": similarity_weight,
                        "half_life_days": half_life,
                        "weight": weight,
                        "ndcg@10": score(base + weight * trends[half_life], owned, truths),
                    }
                )

    warm_users = groups["warm"]
    factor_scores = _standardise(
        model._score_rows(model._feature_rows(warm_users, np.zeros(len(warm_users), bool)))
    )
    similarity = model.similarity_scores(warm_users)
    for similarity_weight in SIMILARITY_WEIGHTS:
        base = factor_scores + similarity_weight * similarity
        scored("warm", warm_users, base, TREND_HALF_LIVES, TREND_WEIGHTS, similarity_weight)
    warm = max(curve, key=lambda r: r["ndcg@10"])
    tuned = replace(
        params,
        similarity_weight=warm["similarity_weight"],
        trend_half_life_days=warm["half_life_days"],
        trend_weight=warm["weight"],
    )
    cold_users = groups["cold"]
    if len(cold_users) >= 20:
        cold_scores = _standardise(
            model._score_rows(model._feature_rows(cold_users, np.ones(len(cold_users), bool)))
        )
        scored("cold", cold_users, cold_scores, (warm["half_life_days"],), COLD_TREND_WEIGHTS, 0.0)
        cold_best = max((r for r in curve if r["customers"] == "cold"), key=lambda r: r["ndcg@10"])
        tuned = replace(tuned, cold_trend_weight=cold_best["weight"])
    log.info(
        "blend: item-to-item weight %s, trend half-life %g days at weight %s (cold customers %s)",
        tuned.similarity_weight,
        tuned.trend_half_life_days,
        tuned.trend_weight,
        tuned.cold_trend_weight,
    )
    return tuned, curve
