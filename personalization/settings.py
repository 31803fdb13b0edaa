"""Settings read from the environment, so that one code path serves laptops, CI and production."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class ConfigurationError(RuntimeError):
    """A required setting is missing or malformed."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    connect_timeout_s: int = 3
    statement_timeout_ms: int = 5000
    pool_min: int = 2
    pool_max: int = 8

    @classmethod
    def from_env(cls) -> DatabaseSettings:
        url = os.environ.get("DATABASE_URL", "").strip()
        if not url:
            raise ConfigurationError(
                "DATABASE_URL is not set; run through `make run` or `eval $(make env)`."
            )
        return cls(
            url=url,
            connect_timeout_s=_int_env("DB_CONNECT_TIMEOUT_S", 3),
            statement_timeout_ms=_int_env("DB_STATEMENT_TIMEOUT_MS", 5000),
            pool_min=_int_env("DB_POOL_MIN", 2),
            pool_max=_int_env("DB_POOL_MAX", 8),
        )


@dataclass(frozen=True)
class TokenSettings:
    """How customer tokens from the shop's backend are checked (see personalization.auth)."""

    algorithm: str = "HS256"
    secret: str = ""
    public_key_file: str | None = None
    audience: str = "hearth-home-support"
    issuer: str | None = None
    max_lifetime_s: int = 3600
    leeway_s: int = 30

    @classmethod
    def from_env(cls) -> TokenSettings:
        return cls(
            algorithm=os.environ.get("CUSTOMER_TOKEN_ALGORITHM", "").strip() or "HS256",
            secret=os.environ.get("CUSTOMER_TOKEN_SECRET", "").strip(),
            public_key_file=os.environ.get("CUSTOMER_TOKEN_PUBLIC_KEY_FILE", "").strip() or None,
            audience=os.environ.get("CUSTOMER_TOKEN_AUDIENCE", "").strip() or "hearth-home-support",
            issuer=os.environ.get("CUSTOMER_TOKEN_ISSUER", "").strip() or None,
            max_lifetime_s=_int_env("CUSTOMER_TOKEN_MAX_LIFETIME_S", 3600),
            leeway_s=_int_env("CUSTOMER_TOKEN_LEEWAY_S", 30),
        )


@dataclass(frozen=True)
class IdentitySettings:
    """How long a proof of identity holds, and whether the local demo shortcuts are on."""

    proof_ttl_s: int = 2 * 3600
    demo_mode: bool = False
    binding_key: bytes = b""

    @classmethod
    def from_env(cls) -> IdentitySettings:
        key = os.environ.get("IDENTITY_KEY", "").strip()
        if len(key) < 16:
            raise ConfigurationError(
                "IDENTITY_KEY must be a secret of at least 16 characters: it keys the hashes "
                "of sign-in identifiers and client addresses (`make env` creates one)"
            )
        return cls(
            proof_ttl_s=_int_env("IDENTITY_PROOF_TTL_S", 2 * 3600),
            demo_mode=_bool_env("DEMO_MODE"),
            binding_key=key.encode(),
        )


@dataclass(frozen=True)
class SignInSettings:
    """Brute-force limits of the in-chat sign-in, counted across conversations."""

    max_failures_per_identifier: int = 5
    max_failures_per_client: int = 20
    lockout_s: int = 15 * 60

    @classmethod
    def from_env(cls) -> SignInSettings:
        return cls(
            max_failures_per_identifier=_int_env("SIGN_IN_MAX_FAILURES_PER_IDENTIFIER", 5),
            max_failures_per_client=_int_env("SIGN_IN_MAX_FAILURES_PER_CLIENT", 20),
            lockout_s=_int_env("SIGN_IN_LOCKOUT_S", 15 * 60),
        )


@dataclass(frozen=True)
class ActionServerSettings:
    """Who may call the action server, and where it listens."""

    token: str = ""
    listen_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> ActionServerSettings:
        return cls(
            token=os.environ.get("ACTION_SERVER_TOKEN", "").strip(),
            listen_host=os.environ.get("ACTION_LISTEN_HOST", "").strip()
            or os.environ.get("SANIC_HOST", "").strip()
            or "127.0.0.1",
        )


@dataclass(frozen=True)
class RasaServerSettings:
    """Where Rasa listens and whether its HTTP API (trackers, events, models) is open."""

    host: str = "127.0.0.1"
    port: int = 5005
    enable_api: bool = False
    api_token: str = ""

    @classmethod
    def from_env(cls) -> RasaServerSettings:
        token = os.environ.get("RASA_API_TOKEN", "").strip()
        token_file = os.environ.get("RASA_API_TOKEN_FILE", "").strip()
        if not token and token_file:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"RASA_API_TOKEN_FILE cannot be read: {exc.strerror}"
                ) from exc
        return cls(
            host=os.environ.get("RASA_HOST", "").strip() or "127.0.0.1",
            port=_int_env("RASA_PORT", 5005),
            enable_api=_bool_env("RASA_ENABLE_API"),
            api_token=token,
        )


def shared_datasets_dir() -> Path:
    """The public data sets beside the project; never copied into it."""
    return Path(os.environ.get("SHARED_DATASETS") or Path("..") / "shared" / "datasets")


def _bool_env(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name} must be 1 or 0, got {raw!r}")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
