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


def shared_datasets_dir() -> Path:
    """The public data sets beside the project; never copied into it."""
    return Path(os.environ.get("SHARED_DATASETS") or Path("..") / "shared" / "datasets")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
