"""The environment a channel reads its identity settings from, as a test sets it."""

from __future__ import annotations

import pytest

TOKEN_SETTINGS = ("CUSTOMER_TOKEN_ALGORITHM", "CUSTOMER_TOKEN_AUDIENCE", "CUSTOMER_TOKEN_ISSUER")


def use_identity_environment(monkeypatch: pytest.MonkeyPatch, secret: str, key: bytes) -> None:
    """An HS256 token secret and an identity key, every other token setting at its default."""
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", secret)
    monkeypatch.setenv("IDENTITY_KEY", key.decode())
    for name in TOKEN_SETTINGS:
        monkeypatch.delenv(name, raising=False)
