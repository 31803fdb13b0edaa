"""How DATABASE_URL / REDIS_URL become the variables endpoints.yml reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack import environment
from stack.environment import StackConfigError
from tests.conftest import Servers


def test_configured_urls_are_used_and_nothing_is_started(servers: Servers, tmp_path: Path) -> None:
    env = environment.resolve(
        {
            "DATABASE_URL": servers.database_url("elsewhere"),
            "REDIS_URL": servers.redis_url,
            "STACK_DATA_DIR": str(tmp_path),
        }
    )
    assert env.started == []
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "redis").exists()
    assert env.values["DATABASE_URL"] == servers.database_url("elsewhere")
    port = servers.redis_url.rsplit(":", 1)[1].split("/")[0]
    assert env.values["REDIS_HOST"] == "127.0.0.1"
    assert env.values["REDIS_PORT"] == port
    assert env.values["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:5055/webhook"


def test_unset_urls_start_embedded_servers_once(tmp_path: Path) -> None:
    environ = {"STACK_DATA_DIR": str(tmp_path)}
    try:
        first = environment.resolve(environ)
        assert sorted(first.started) == ["postgres", "redis"]
        assert "host=" + str(tmp_path) in first.values["DATABASE_URL"]
        second = environment.resolve(environ)
        assert second.started == [], "running servers are reused"
        assert second.values["REDIS_URL"] == first.values["REDIS_URL"]
    finally:
        stopped = environment.stop_embedded(environ)
    assert sorted(stopped) == ["postgres", "redis"]


def test_starting_services_can_be_forbidden(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match="DATABASE_URL is unset"):
        environment.resolve({"STACK_DATA_DIR": str(tmp_path)}, start_services=False)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://cache.internal:6380/2", ("cache.internal", "6380", "2", "")),
        ("redis://:s3cret@10.0.0.5", ("10.0.0.5", "6379", "0", "s3cret")),
        ("rediss://user:pw@redis.example.com:6390/0", ("redis.example.com", "6390", "0", "pw")),
    ],
)
def test_redis_url_is_split_for_rasa(url: str, expected: tuple[str, str, str, str]) -> None:
    parts = environment.redis_parts(url)
    got = tuple(parts[k] for k in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD"))
    assert got == expected


@pytest.mark.parametrize("url", ["http://localhost:6379", "redis://", "redis://host/notanumber"])
def test_bad_redis_urls_are_refused(url: str) -> None:
    with pytest.raises(StackConfigError):
        environment.redis_parts(url)


def test_heroku_style_postgres_url_is_normalised(tmp_path: Path, servers: Servers) -> None:
    env = environment.resolve(
        {
            "DATABASE_URL": "postgres://app:pw@db.example.com:5432/shop",
            "REDIS_URL": servers.redis_url,
            "STACK_DATA_DIR": str(tmp_path),
        }
    )
    assert env.values["DATABASE_URL"] == "postgresql://app:pw@db.example.com:5432/shop"


def test_non_postgres_database_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match="postgresql://"):
        environment.resolve({"DATABASE_URL": "mysql://x@y/z", "STACK_DATA_DIR": str(tmp_path)})


def test_exports_quote_values_for_the_shell() -> None:
    env = environment.StackEnvironment({"A": "plain", "B": "has space"})
    assert env.exports() == "export A=plain\nexport B='has space'"


def test_a_local_pseudonym_key_is_created_once_and_kept_private(
    servers: Servers, tmp_path: Path
) -> None:
    environ = {
        "DATABASE_URL": servers.database_url("x"),
        "REDIS_URL": servers.redis_url,
        "STACK_DATA_DIR": str(tmp_path),
    }
    first = environment.resolve(environ).values["PSEUDONYM_KEY"]
    assert len(first) == 64
    assert environment.resolve(environ).values["PSEUDONYM_KEY"] == first
    assert (tmp_path / "pseudonym.key").stat().st_mode & 0o077 == 0
    configured = environment.resolve({**environ, "PSEUDONYM_KEY": "from-the-secret-store"})
    assert configured.values["PSEUDONYM_KEY"] == "from-the-secret-store"
