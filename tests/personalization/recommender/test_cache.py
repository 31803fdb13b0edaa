"""The Redis cache of top-N lists, against the real Redis server."""

from __future__ import annotations

import redis
from prometheus_client import REGISTRY

from personalization.recommender.cache import RecommendationCache


def test_put_get_with_ttl(cache: RecommendationCache) -> None:
    def looked_up(result: str) -> float:
        return (
            REGISTRY.get_sample_value("shopbot_recommendation_cache_total", {"result": result}) or 0
        )

    hits, misses = looked_up("hit"), looked_up("miss")
    value = {"customer_id": "cust-1", "items": [{"stock_code": "A"}], "source": "model"}
    assert cache.get("v1", "cust-1") is None
    cache.put("v1", "cust-1", value)
    assert cache.get("v1", "cust-1") == value
    assert (looked_up("hit"), looked_up("miss")) == (hits + 1, misses + 1)
    assert cache.get("v2", "cust-1") is None, "another version never sees this list"
    ttl = cache.client.ttl(cache.key("v1", "cust-1"))
    assert 0 < ttl <= cache.ttl_s


def test_switching_versions_drops_the_other_versions_lists(cache: RecommendationCache) -> None:
    for version in ("v1", "v2"):
        for customer in ("cust-1", "cust-2"):
            cache.put(version, customer, {"items": []})
    other = RecommendationCache(cache.client, prefix=cache.prefix + "x")
    other.put("v1", "cust-1", {"items": []})
    assert cache.invalidate_except("v2") == 2
    assert cache.get("v1", "cust-1") is None and cache.get("v2", "cust-1") is not None
    assert other.get("v1", "cust-1") is not None, "another deployment's prefix is untouched"


def test_forgetting_a_customer_covers_every_version_and_only_them(
    cache: RecommendationCache,
) -> None:
    for version in ("v1", "v2"):
        cache.put(version, "cust-1", {"items": []})
        cache.put(version, "cust-10", {"items": []})
    assert cache.forget_customer("cust-1") == 2
    assert cache.get("v1", "cust-10") is not None


def test_a_redis_outage_is_a_miss_not_an_error() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    down = RecommendationCache(client)
    down.put("v1", "cust-1", {"items": []})
    assert down.get("v1", "cust-1") is None
