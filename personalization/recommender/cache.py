"""A customer's top-N recommendations cached in Redis.

Keys are ``<prefix>:reco:<model version>:<customer id>``, so a reader that asks with the
active version can never get an older model's list. Switching versions also deletes the
other versions' keys, so memory is not held by lists nobody will read. Redis failures make the
cache a miss, never an error: recommendations are computed instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from personalization.metrics import RECOMMENDATION_CACHE
from personalization.settings import RedisSettings

log = logging.getLogger(__name__)

DEFAULT_TTL_S = RedisSettings.recommendation_ttl_s


@dataclass
class RecommendationCache:
    client: redis.Redis
    prefix: str = "shopbot"
    ttl_s: int = DEFAULT_TTL_S

    @classmethod
    def from_env(cls) -> RecommendationCache | None:
        return cls.from_settings(RedisSettings.from_env())

    @classmethod
    def from_settings(cls, settings: RedisSettings) -> RecommendationCache | None:
        """None without a Redis URL. The client gives up after the configured socket and
        connect timeouts (about a second), so a dead Redis is a quick miss."""
        if not settings.url:
            return None
        client = redis.Redis.from_url(
            settings.url,
            socket_timeout=settings.socket_timeout_s,
            socket_connect_timeout=settings.connect_timeout_s,
        )
        return cls(client, settings.key_prefix, settings.recommendation_ttl_s)

    def key(self, version: str, customer_id: str) -> str:
        return f"{self.prefix}:reco:{version}:{customer_id}"

    def get(self, version: str, customer_id: str) -> dict[str, Any] | None:
        try:
            raw = self.client.get(self.key(version, customer_id))
        except redis.RedisError as exc:
            log.warning("recommendation cache unavailable: %s", type(exc).__name__)
            RECOMMENDATION_CACHE.labels(result="unavailable").inc()
            return None
        RECOMMENDATION_CACHE.labels(result="hit" if raw else "miss").inc()
        return json.loads(raw) if raw else None

    def put(self, version: str, customer_id: str, value: dict[str, Any]) -> None:
        try:
            self.client.set(self.key(version, customer_id), json.dumps(value), ex=self.ttl_s)
        except redis.RedisError as exc:
            log.warning("recommendation cache unavailable: %s", type(exc).__name__)

    def _keys(self, pattern: str) -> Iterator[bytes]:
        yield from self.client.scan_iter(match=pattern, count=1000)

    def _delete(self, keys: Iterator[bytes]) -> int:
        deleted, batch = 0, []
        for key in keys:
            batch.append(key)
            if len(batch) == 500:
                deleted += int(self.client.delete(*batch))
                batch = []
        if batch:
            deleted += int(self.client.delete(*batch))
        return deleted

    def invalidate_except(self, version: str) -> int:
        """Drop every cached list not made by ``version``; returns how many."""
        keep = f"{self.prefix}:reco:{version}:".encode()
        stale = (k for k in self._keys(f"{self.prefix}:reco:*") if not k.startswith(keep))
        return self._delete(stale)

    def forget_customer(self, customer_id: str) -> int:
        """Drop a customer's lists under every version (erasure, consent withdrawn)."""
        escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in customer_id)
        return self._delete(self._keys(f"{self.prefix}:reco:*:{escaped}"))
