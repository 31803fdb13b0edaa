"""How DATABASE_URL / REDIS_URL become the variables endpoints.yml reads."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from personalization.settings import RasaServerSettings
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


def configured(servers: Servers, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": servers.database_url("x"),
        "REDIS_URL": servers.redis_url,
        "STACK_DATA_DIR": str(tmp_path),
        **extra,
    }


# The secrets the stack makes for a local installation, and the files that keep them.
LOCAL_SECRETS = {
    "PSEUDONYM_KEY": "pseudonym.key",
    "IDENTITY_KEY": "identity.key",
    "ACTION_SERVER_TOKEN": "action-server.token",
    "CUSTOMER_TOKEN_SECRET": "customer-token.secret",
}


def private(path: Path) -> bool:
    return path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("name", "file"), LOCAL_SECRETS.items())
def test_each_local_secret_is_created_once_and_kept_private(
    servers: Servers, tmp_path: Path, name: str, file: str
) -> None:
    environ = configured(servers, tmp_path)
    first = environment.resolve(environ).values[name]
    assert re.fullmatch(r"[0-9a-f]{64}", first), "32 random bytes"
    assert (tmp_path / file).read_text() == first
    assert private(tmp_path / file)
    assert environment.resolve(environ).values[name] == first, "stable across runs"
    from_store = environment.resolve({**environ, name: "from-the-secret-store"})
    assert from_store.values[name] == "from-the-secret-store"
    assert (tmp_path / file).read_text() == first, "a configured secret leaves the file alone"


def test_the_local_secrets_are_independent(servers: Servers, tmp_path: Path) -> None:
    values = environment.resolve(configured(servers, tmp_path)).values
    api_token = Path(values["RASA_API_TOKEN_FILE"]).read_text()
    secrets = [values[name] for name in LOCAL_SECRETS] + [api_token]
    assert len(set(secrets)) == len(secrets)


def test_the_rasa_api_token_is_a_private_file_with_a_header_file_beside_it(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = configured(servers, tmp_path)
    values = environment.resolve(environ).values
    token_file = Path(values["RASA_API_TOKEN_FILE"])
    assert token_file == tmp_path / "rasa-api.token"
    token = token_file.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    header = tmp_path / "rasa-api.header"
    assert header.read_text() == f"Authorization: Bearer {token}\n", "for curl -H @file"
    assert private(token_file) and private(header)
    assert "RASA_API_TOKEN" not in values, "the token itself is not passed around"
    assert token not in values.values()
    assert environment.resolve(environ).values["RASA_API_TOKEN_FILE"] == str(token_file)
    assert token_file.read_text() == token
    monkeypatch.delenv("RASA_API_TOKEN", raising=False)
    monkeypatch.setenv("RASA_API_TOKEN_FILE", str(token_file))
    assert RasaServerSettings.from_env().api_token == token, "what stack.rasa_server reads"


def test_a_configured_api_token_or_public_key_makes_no_local_file(
    servers: Servers, tmp_path: Path
) -> None:
    values = environment.resolve(
        configured(
            servers,
            tmp_path,
            RASA_API_TOKEN="from-the-secret-store",
            CUSTOMER_TOKEN_PUBLIC_KEY_FILE="/etc/shop/customer-token.pem",
        )
    ).values
    assert "RASA_API_TOKEN_FILE" not in values
    assert "CUSTOMER_TOKEN_SECRET" not in values, "the bot only verifies; the shop signs"
    assert not (tmp_path / "rasa-api.token").exists()
    assert not (tmp_path / "rasa-api.header").exists()
    assert not (tmp_path / "customer-token.secret").exists()
    configured_file = environment.resolve(
        configured(servers, tmp_path, RASA_API_TOKEN_FILE="/run/secrets/rasa-api")
    ).values
    assert configured_file["RASA_API_TOKEN_FILE"] == "/run/secrets/rasa-api"
    assert not (tmp_path / "rasa-api.token").exists()


def test_local_secret_makes_its_directory_and_a_0600_file_whatever_the_umask(
    tmp_path: Path,
) -> None:
    root = tmp_path / "new" / "data"
    old = os.umask(0)
    try:
        secret = environment.local_secret(root, "some.secret")
    finally:
        os.umask(old)
    assert private(root / "some.secret")
    assert environment.local_secret(root, "some.secret") == secret
    assert environment.local_secret(root, "other.secret") != secret


def test_an_existing_secret_file_is_kept_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "pseudonym.key").write_text("kept-from-an-earlier-install\n")
    assert environment.local_secret(tmp_path, "pseudonym.key") == "kept-from-an-earlier-install"


def test_the_data_directory_is_private(servers: Servers, tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    environ = {
        "DATABASE_URL": servers.database_url("x"),
        "REDIS_URL": servers.redis_url,
        "STACK_DATA_DIR": str(root),
    }
    (root / "redis").mkdir(mode=0o755)
    (root / "redis").chmod(0o755)
    environment.resolve(environ)
    if os.geteuid() == 0:  # embedded PostgreSQL's own user must pass through to its data
        assert root.stat().st_mode & 0o777 == 0o711, "others may pass, not list"
        assert (root / "redis").stat().st_mode & 0o777 == 0o700, "the dump: owner only"
    else:
        assert root.stat().st_mode & 0o777 == 0o700, "secrets, dumps and logs: owner only"


def test_run_as_root_the_embedded_database_keeps_its_way_in(tmp_path: Path) -> None:
    """Closing the data directory to PostgreSQL's user made the running server panic."""
    if os.geteuid() != 0:
        pytest.skip("only root runs embedded PostgreSQL as another user")
    (tmp_path / "postgres").mkdir(mode=0o700)
    (tmp_path / "logs").mkdir(mode=0o755)
    environment.private_directory(tmp_path)
    assert tmp_path.stat().st_mode & 0o777 == 0o711
    assert (tmp_path / "postgres").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "logs").stat().st_mode & 0o777 == 0o700
