"""Fixtures for the stack's tests."""

from __future__ import annotations

import pytest
from sanic import Sanic


@pytest.fixture
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several Sanic apps start in one process: test mode lets Sanic's start-up rewrite
    (TouchUp) begin from the original methods each time and allows a name twice, as
    sanic-testing does."""
    monkeypatch.setattr(Sanic, "test_mode", True)
