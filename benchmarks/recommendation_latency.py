"""Recommendation latency per request: computed by the model, and served from the Redis cache.

Run:  eval "$(make -s env)" && .venv/bin/python -m personalization train \\
      && .venv/bin/python -m benchmarks.recommendation_latency [--customers 500] [--runs 3]

It needs the active recommender version under RECOMMENDER_DIR and the store it was trained
on. For random customers it times ``RecommendationService.recommend`` (top 10) in three
situations: computed for a customer the model knows, computed for a customer it does not know
(cold start from features), and served from the cache. Each situation is timed in several runs;
it prints the median over runs of each run's p50 and p99.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid

from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.service import RecommendationService
from personalization.store import Database


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _time(service: RecommendationService, customers: list[str]) -> list[float]:
    timings = []
    for customer in customers:
        started = time.perf_counter()
        result = service.recommend(customer, n=10)
        timings.append((time.perf_counter() - started) * 1000)
        assert result.items, "the service never answers with an empty list"
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    db, registry = Database.from_env(), ModelRegistry.from_env()
    version = registry.current_version()
    if version is None:
        raise SystemExit("no active recommender: run `personalization train` first")
    model = registry.load(version)
    cache = RecommendationCache.from_env()
    if cache is None:
        raise SystemExit("REDIS_URL is not set")
    cache.prefix = f"bench{uuid.uuid4().hex[:6]}"  # never touches the live cache
    rng = random.Random(1)
    known = rng.sample(model.users, min(args.customers, len(model.users)))
    with db.cursor() as cur:
        cur.execute("SELECT id FROM customers WHERE id <> ALL(%s)", (model.users,))
        unknown = [r["id"] for r in cur.fetchall()]
    unknown = rng.sample(unknown, min(args.customers, len(unknown)))
    print(
        f"model {version}: {len(model.users)} customers × {len(model.items)} products; "
        f"timing {len(known)} known and {len(unknown)} unknown customers, {args.runs} runs"
    )
    computed = RecommendationService(db, registry, cache=None)
    computed.recommend(known[0])  # loads the model once, as a long-running server would
    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.runs):
        results.setdefault("computed, known customer", []).append(
            _percentiles(_time(computed, known))
        )
        if unknown:
            results.setdefault("computed, cold start (features)", []).append(
                _percentiles(_time(computed, unknown))
            )
        cached = RecommendationService(db, registry, cache)
        _time(cached, known)  # fills the cache
        results.setdefault("from the Redis cache", []).append(_percentiles(_time(cached, known)))
        cache.invalidate_except("none")
    print(f"{'situation':<34}{'p50 ms':>9}{'p99 ms':>9}")
    for situation, runs in results.items():
        p50 = statistics.median(r[0] for r in runs)
        p99 = statistics.median(r[1] for r in runs)
        print(f"{situation:<34}{p50:>9.2f}{p99:>9.2f}")
    db.close()


if __name__ == "__main__":
    main()
