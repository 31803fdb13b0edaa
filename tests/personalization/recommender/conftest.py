"""A demo shop with segments, a model registry in a temporary directory and a Redis cache."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.model import Params
from personalization.recommender.registry import ModelRegistry
from personalization.segments import Segmenter
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from tests.conftest import Servers

FAST = Params(components=16, epochs=20, threads=1)


@pytest.fixture
def shop(db: Database) -> Database:
    load_demo_customers(CustomerRepository(db))
    load_demo_shop(db, demo_customers())
    Segmenter(db).run()
    return db


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "recommender")


@pytest.fixture
def cache(servers: Servers) -> Iterator[RecommendationCache]:
    client = redis.Redis.from_url(servers.redis_url)
    yield RecommendationCache(client, prefix=f"t{uuid.uuid4().hex[:8]}", ttl_s=120)
    client.close()
