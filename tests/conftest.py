"""Shared fixtures: real PostgreSQL and Redis servers for the whole test session.

The servers are started from the same embedded packages as the default stack, in a temporary
directory, and stopped at the end. To the code under test they are simply servers at a URL,
as a production PostgreSQL and Redis would be.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
import redis

from personalization.settings import DatabaseSettings
from personalization.store import Database
from personalization.store.migrate import migrate
from stack.services import EmbeddedPostgres, EmbeddedRedis

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Servers:
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis
    admin_url: str
    redis_url: str

    def database_url(self, name: str) -> str:
        return self.admin_url.replace("/postgres?", f"/{name}?")


@pytest.fixture(autouse=True)
def pseudonym_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys every deployment has (`make env` creates them); tests that need one unset say
    so."""
    if not os.environ.get("PSEUDONYM_KEY"):
        monkeypatch.setenv("PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
    if not os.environ.get("IDENTITY_KEY"):
        monkeypatch.setenv("IDENTITY_KEY", "test-identity-key-0123456789abcdef")


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("servers")
    postgres = EmbeddedPostgres(root / "pg", database="postgres")
    embedded_redis = EmbeddedRedis(root / "redis")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        admin_url = postgres.start()
    redis_url = embedded_redis.start()
    try:
        yield Servers(postgres, embedded_redis, admin_url, redis_url)
    finally:
        embedded_redis.stop()
        postgres.stop()


def create_database(servers: Servers, prefix: str = "test") -> str:
    """A new, empty database on the session's server; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(servers.admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return servers.database_url(name)


@pytest.fixture
def empty_database_url(servers: Servers) -> str:
    return create_database(servers)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A fresh database with every migration applied."""
    db = Database(DatabaseSettings(url=empty_database_url))
    try:
        migrate(db)
    finally:
        db.close()
    return empty_database_url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(DatabaseSettings(url=database_url))
    yield database
    database.close()


@pytest.fixture
def redis_client(servers: Servers) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(servers.redis_url, decode_responses=True)
    yield client
    client.close()


# Fixtures that start or reach a server: a test marked `fast` may use none of them.
SERVER_FIXTURES = frozenset(
    {
        "servers",
        "empty_database_url",
        "database_url",
        "db",
        "redis_client",
        "stack",
        "slack_api",
        "store_with_demo_customers",
        "store_with_demo_shop",
        "store_down",
        "shop",
        "cache",
        "insights",
        "browser",
        "page",
    }
)


def check_fast_tier(items: list[pytest.Item]) -> None:
    """A test marked `fast` (`make test-fast`) that reaches a server is an error, at once."""
    for item in items:
        if item.get_closest_marker("fast") is None:
            continue
        servers = sorted(set(getattr(item, "fixturenames", ())) & SERVER_FIXTURES)
        if servers:
            raise pytest.UsageError(f"{item.nodeid} is marked fast but uses {', '.join(servers)}")


# The running stack, shared by tests/e2e and tests/security: registered here, once, so both
# folders get the same session-scoped servers. Imported last: it uses the helpers above.
from tests.e2e.fixtures import (  # noqa: E402
    slack_api,  # noqa: F401
    stack,  # noqa: F401
    stopping_the_stack_last,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stopping_the_stack_last(items)
    check_fast_tier(items)
