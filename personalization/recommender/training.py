"""Train, version and switch in a new recommender; forget erased customers in old ones."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from personalization.recommender.cache import RecommendationCache
from personalization.recommender.data import training_purchases
from personalization.recommender.evaluation import ndcg_at_k
from personalization.recommender.model import HybridModel, Params, Purchases, tune_blend
from personalization.recommender.registry import ModelRegistry
from personalization.store import Database

log = logging.getLogger(__name__)


def fingerprint(purchases: Purchases) -> str:
    """Same purchases and features, same fingerprint: tells whether a retrain saw new data."""
    digest = hashlib.sha256()
    for values in (purchases.users, purchases.items):
        digest.update("\x1f".join(values).encode())
    for array in (purchases.user_idx, purchases.item_idx):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(purchases.reference.isoformat().encode())
    for features in (purchases.user_features, purchases.item_features):
        digest.update(repr(features).encode())
    return digest.hexdigest()


@dataclass
class TrainingReport:
    version: str
    previous_version: str | None
    seconds: float
    metadata: dict[str, Any]
    cache_keys_invalidated: int | None = None
    tuning_curve: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "previous_version": self.previous_version,
            "seconds": round(self.seconds, 1),
            "cache_keys_invalidated": self.cache_keys_invalidated,
            **{k: v for k, v in self.metadata.items() if k != "tuning_curve"},
        }


def train(
    db: Database,
    registry: ModelRegistry,
    cache: RecommendationCache | None = None,
    params: Params | None = None,
    tune: bool = True,
    reference: datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> TrainingReport:
    """``progress(stage, done, total)`` follows the epochs of the tuning and final fits."""
    started = time.monotonic()
    purchases, params, curve, model = fit_on_every_order(db, params, tune, reference, progress)
    warm_curve = [row for row in curve if row["customers"] == "warm"]
    best = max(warm_curve, key=lambda row: row["ndcg@10"]) if warm_curve else None
    metadata = {
        "data_fingerprint": fingerprint(purchases),
        "trained_at": datetime.now(timezone.utc).isoformat(),
        "reference": purchases.reference.isoformat(),
        "customers": len(purchases.users),
        "products": len(purchases.items),
        "purchase_lines": len(purchases.user_idx),
        "params": params.as_dict(),
        "metrics": {
            "fit_seconds": round(model.fit_seconds, 1),
            "validation_ndcg@10": best["ndcg@10"] if best else None,
            "validation_ndcg@10_without_trend": max(
                (r["ndcg@10"] for r in warm_curve if r["weight"] == 0), default=None
            ),
        },
        "tuning_curve": curve,
    }
    with registry.locked():
        # A customer erased while the model was fitting must not come back with it.
        model = _without_erased(db, model)
        previous = registry.current_version()
        version = registry.save(model, metadata)
        registry.activate(version)
    invalidated = cache.invalidate_except(version) if cache is not None else None
    log.info("recommender %s active (was %s)", version, previous)
    return TrainingReport(
        version, previous, time.monotonic() - started, metadata, invalidated, curve
    )


def fit_on_every_order(
    db: Database,
    params: Params | None = None,
    tune: bool = True,
    reference: datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[Purchases, Params, list[dict[str, Any]], HybridModel]:
    """Read every order, tune the blend on the last month, fit: all of training but saving."""
    purchases = training_purchases(db, reference)
    params = params or Params()
    curve: list[dict[str, Any]] = []
    if tune:
        params, curve = tune_blend(
            purchases, params, ndcg_at_k, on_epoch=_stage(progress, "tuning on the last month")
        )
    model = HybridModel.fit(purchases, params, _stage(progress, "fitting on every order"))
    return purchases, params, curve, model


def _stage(
    progress: Callable[[str, int, int], None] | None, stage: str
) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def rollback(registry: ModelRegistry, cache: RecommendationCache | None = None) -> dict[str, Any]:
    previous = registry.current_version()
    version = registry.rollback()
    invalidated = cache.invalidate_except(version) if cache is not None else None
    return {"version": version, "rolled_back_from": previous, "cache_keys_invalidated": invalidated}


def _without_erased(db: Database, model: HybridModel) -> HybridModel:
    """The model without customers whose profile no longer exists (erased meanwhile)."""
    with db.cursor() as cur:
        cur.execute("SELECT id FROM customers WHERE id = ANY(%s)", (list(model.users),))
        present = {row["id"] for row in cur.fetchall()}
    for customer_id in [u for u in model.users if u not in present]:
        model = model.without_customer(customer_id) or model
    return model


def forget_customer(registry: ModelRegistry, customer_id: str) -> int:
    """Remove a customer from every stored version; returns how many versions held them.

    Each rewrite renews the registry's generation, so running processes reload the model.
    """
    changed = 0
    if not registry.versions():
        return 0
    with registry.locked():
        for version in registry.versions():
            model = registry.load(version)
            pruned = model.without_customer(customer_id)
            if pruned is not None:
                registry.rewrite(version, pruned)
                changed += 1
    return changed
