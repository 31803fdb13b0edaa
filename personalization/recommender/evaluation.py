"""Offline evaluation of product recommendations on a temporal split.

Purchases before the split date train every model; purchases from that date on are the test.
A customer's truth is the products they bought in the test period and had not bought before,
since recommending what they already own is no help. Customers with purchases before the
split are "warm"; those without are "cold". All models are scored on the same users, the
same candidate items (products sold before the split) and the same metrics:
precision@10, recall@10, NDCG@10, AUC and catalogue coverage of the top-10 lists.

Models: popularity; item-kNN (cosine); implicit ALS; and our hybrid LightFM (WARP) with user
features (country, and purchase frequency and recency buckets at the split date) and item
features (words of the description, price band). Baselines without features answer cold
customers with popularity.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from personalization.store import Database

log = logging.getLogger(__name__)

K = 10
_WORD = re.compile(r"[a-z]{3,}")
_STOP = {"and", "the", "for", "with", "set", "of", "in", "pack", "assorted", "colour", "design"}


@dataclass
class SplitData:
    users: list[str]
    items: list[str]
    train: sp.csr_matrix  # users × items, purchase counts before the split
    truth: dict[int, set[int]]  # user index → new items bought after the split
    user_features: list[list[str]]
    item_features: list[list[str]]
    split_at: datetime

    def warm_users(self) -> list[int]:
        counts = np.asarray(self.train.sum(axis=1)).ravel()
        return sorted(u for u in self.truth if counts[u] > 0)

    def cold_users(self) -> list[int]:
        counts = np.asarray(self.train.sum(axis=1)).ravel()
        return sorted(u for u in self.truth if counts[u] == 0)


def _bucket(value: float, edges: tuple[float, ...]) -> int:
    return int(np.searchsorted(edges, value, side="right"))


def _words(description: str) -> list[str]:
    return sorted({w for w in _WORD.findall(description.lower()) if w not in _STOP})


def load_split(db: Database, split_at: datetime) -> SplitData:
    with db.cursor() as cur:
        cur.execute(
            """SELECT o.customer_id, l.stock_code, o.ordered_at
               FROM order_lines l JOIN orders o ON o.id = l.order_id"""
        )
        rows = cur.fetchall()
        cur.execute("SELECT stock_code, description, unit_price FROM products")
        products = {r["stock_code"]: r for r in cur.fetchall()}
        cur.execute("SELECT id, country FROM customers")
        countries = {r["id"]: r["country"] or "unknown" for r in cur.fetchall()}
    train_rows = [r for r in rows if r["ordered_at"] < split_at]
    test_rows = [r for r in rows if r["ordered_at"] >= split_at]
    items = sorted({r["stock_code"] for r in train_rows})
    users = sorted({r["customer_id"] for r in rows})
    item_index = {code: i for i, code in enumerate(items)}
    user_index = {cid: u for u, cid in enumerate(users)}

    counts: Counter[tuple[int, int]] = Counter(
        (user_index[r["customer_id"]], item_index[r["stock_code"]]) for r in train_rows
    )
    train = sp.csr_matrix(
        (list(counts.values()), ([u for u, _ in counts], [i for _, i in counts])),
        shape=(len(users), len(items)),
        dtype=np.float32,
    )
    owned = {u: set(train[u].indices) for u in range(len(users))}
    truth: dict[int, set[int]] = {}
    for r in test_rows:
        item = item_index.get(r["stock_code"])
        user = user_index[r["customer_id"]]
        if item is not None and item not in owned[user]:
            truth.setdefault(user, set()).add(item)

    last_seen: dict[int, datetime] = {}
    orders_before: Counter[int] = Counter()
    for r in train_rows:
        user = user_index[r["customer_id"]]
        orders_before[user] += 1
        if r["ordered_at"] > last_seen.get(user, datetime.min.replace(tzinfo=split_at.tzinfo)):
            last_seen[user] = r["ordered_at"]
    user_features = []
    for u, cid in enumerate(users):
        features = [f"country:{countries.get(cid, 'unknown')}"]
        if orders_before[u]:
            days = (split_at - last_seen[u]).days
            features += [
                f"lines:{_bucket(orders_before[u], (5, 20, 60, 200))}",
                f"recency:{_bucket(days, (14, 45, 120, 240))}",
            ]
        else:
            features.append("lines:new")
        user_features.append(features)
    item_features = []
    for code in items:
        product = products.get(code)
        description = product["description"] if product else code
        price = float(product["unit_price"] or 0) if product else 0.0
        item_features.append(
            [f"word:{w}" for w in _words(description)]
            + [f"price:{_bucket(price, (1, 2.5, 5, 10, 25))}"]
        )
    return SplitData(users, items, train, truth, user_features, item_features, split_at)


class Recommender(Protocol):
    name: str

    def fit(self, data: SplitData) -> None: ...

    def scores(self, users: list[int]) -> np.ndarray: ...


class Popularity:
    name = "popularity"

    def fit(self, data: SplitData) -> None:
        self._popularity = np.asarray((data.train > 0).sum(axis=0)).ravel().astype(np.float32)

    def scores(self, users: list[int]) -> np.ndarray:
        return np.tile(self._popularity, (len(users), 1))


class _ColdStartFallback:
    """Popularity for customers without purchases, for models that know only purchases."""

    def __init__(self, data: SplitData) -> None:
        self._purchases = np.asarray(data.train.sum(axis=1)).ravel()
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
        binary = (data.train > 0).astype(np.float32)
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
    name = "implicit ALS"

    def __init__(self, factors: int = 64, iterations: int = 20, seed: int = 42) -> None:
        self._factors, self._iterations, self._seed = factors, iterations, seed

    def fit(self, data: SplitData) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import bm25_weight
        from threadpoolctl import threadpool_limits

        weighted = bm25_weight(data.train, K1=100, B=0.8).tocsr().astype(np.float32)
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
    name: str = "LightFM hybrid (ours)"
    components: int = 64
    epochs: int = 30
    seed: int = 42
    threads: int = 2
    fit_seconds: float = field(default=0.0, init=False)

    def fit(self, data: SplitData) -> None:
        from lightfm import LightFM
        from lightfm.data import Dataset

        dataset = Dataset()
        dataset.fit(
            users=range(len(data.users)),
            items=range(len(data.items)),
            user_features={f for fs in data.user_features for f in fs},
            item_features={f for fs in data.item_features for f in fs},
        )
        coo = data.train.tocoo()
        interactions, weights = dataset.build_interactions(
            (int(u), int(i), float(np.log1p(c)))
            for u, i, c in zip(coo.row, coo.col, coo.data, strict=True)
        )
        self._user_features = dataset.build_user_features(enumerate(data.user_features))
        self._item_features = dataset.build_item_features(enumerate(data.item_features))
        self._model = LightFM(
            loss="warp",
            no_components=self.components,
            learning_rate=0.05,
            item_alpha=1e-6,
            user_alpha=1e-6,
            max_sampled=50,
            random_state=self.seed,
        )
        self._model.fit(
            interactions,
            sample_weight=weights,
            user_features=self._user_features,
            item_features=self._item_features,
            epochs=self.epochs,
            num_threads=self.threads,
        )
        item_bias, item_vectors = self._model.get_item_representations(self._item_features)
        self._item_bias, self._item_vectors = item_bias, item_vectors

    def scores(self, users: list[int]) -> np.ndarray:
        user_bias, user_vectors = self._model.get_user_representations(self._user_features[users])
        return user_vectors @ self._item_vectors.T + self._item_bias[None, :] + user_bias[:, None]


def _metrics(scores: np.ndarray, owned: sp.csr_matrix, truth: list[set[int]]) -> dict[str, Any]:
    precision, recall, ndcg, auc = [], [], [], []
    recommended: set[int] = set()
    discounts = 1 / np.log2(np.arange(2, K + 2))
    for row, (user_scores, positives) in enumerate(zip(scores, truth, strict=True)):
        user_scores = user_scores.astype(np.float64).copy()
        bought = owned[row].indices
        user_scores[bought] = -np.inf
        top = np.argpartition(-user_scores, K)[:K]
        top = top[np.argsort(-user_scores[top])]
        recommended.update(top.tolist())
        hits = np.array([item in positives for item in top])
        precision.append(hits.sum() / K)
        recall.append(hits.sum() / len(positives))
        ideal = discounts[: min(len(positives), K)].sum()
        ndcg.append(float((hits * discounts).sum() / ideal))
        candidates = np.setdiff1d(np.arange(len(user_scores)), bought, assume_unique=False)
        ranks = rankdata(user_scores[candidates])
        is_positive = np.isin(candidates, list(positives))
        n_pos, n_neg = is_positive.sum(), len(candidates) - is_positive.sum()
        if n_pos and n_neg:
            auc.append((ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return {
        "users": len(truth),
        "precision@10": float(np.mean(precision)) if precision else math.nan,
        "recall@10": float(np.mean(recall)) if recall else math.nan,
        "ndcg@10": float(np.mean(ndcg)) if ndcg else math.nan,
        "auc": float(np.mean(auc)) if auc else math.nan,
        "coverage": len(recommended) / owned.shape[1],
    }


def evaluate_models(data: SplitData, models: list[Recommender]) -> list[dict[str, Any]]:
    rows = []
    groups = {"warm": data.warm_users(), "cold": data.cold_users()}
    for model in models:
        started = time.monotonic()
        model.fit(data)
        fit_seconds = time.monotonic() - started
        for group, users in groups.items():
            if not users:
                continue
            scores = model.scores(users)
            result = _metrics(scores, data.train[users].tocsr(), [data.truth[u] for u in users])
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
    return [Popularity(), ItemKnn(), ImplicitAls(), HybridLightFm()]
