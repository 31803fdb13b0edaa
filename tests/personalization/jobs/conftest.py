"""Erasure jobs and retention against real PostgreSQL and Redis; a port where nothing listens
stands for a store that is down."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from personalization.jobs.erasure import ErasureJobs, ErasureServices
from personalization.privacy import ConversationStore
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import ModelRegistry
from personalization.settings import DatabaseSettings, ErasureSettings
from personalization.store import Database
from tests.conftest import Servers
from tests.personalization.recommender.conftest import cache, registry, shop  # noqa: F401

KEY = b"jobs-pseudonym-key-0123456789abcdef"


def closed_port() -> int:
    """A local port nobody listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_down() -> Database:
    url = f"postgresql://shop@127.0.0.1:{closed_port()}/shop"
    return Database(DatabaseSettings(url=url, connect_timeout_s=1))


def redis_down_url() -> str:
    return f"redis://127.0.0.1:{closed_port()}/0"


@pytest.fixture
def prefix() -> str:
    """Redis keys of one test, so tests sharing the server never see each other's keys."""
    return f"j{uuid.uuid4().hex[:8]}"


@pytest.fixture
def erasure_settings(servers: Servers, prefix: str) -> ErasureSettings:
    return ErasureSettings(
        redis_url=servers.redis_url,
        tracker_key_prefix=prefix,
        lock_key_prefix=prefix,
        queue_prefix=prefix,
        sweep_delays_s=(0.0,),
        retry_base_s=0.0,
        max_attempts=3,
    )


@pytest.fixture
def conversations(servers: Servers, prefix: str) -> ConversationStore:
    return ConversationStore(servers.redis_url, prefix, 1.0, prefix)


@pytest.fixture
def services(
    conversations: ConversationStore, servers: Servers, prefix: str, tmp_path: Path
) -> Iterator[ErasureServices]:
    client = redis.Redis.from_url(servers.redis_url)
    yield ErasureServices(
        conversations,
        RecommendationCache(client, prefix),
        ModelRegistry(tmp_path / "empty-registry"),
        b"identity-key-for-jobs-tests-0123456789",
        KEY,
    )
    client.close()


@pytest.fixture
def jobs(db: Database, erasure_settings: ErasureSettings, services: ErasureServices) -> ErasureJobs:
    return ErasureJobs(db, erasure_settings, services)


def with_redis_down(services: ErasureServices) -> ErasureServices:
    store = services.conversations
    assert store is not None
    return replace(services, conversations=replace(store, redis_url=redis_down_url()))
