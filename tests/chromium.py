"""Debian's Chromium under Playwright, for the browser tests (the web chat, the insights
page). Playwright's own browser download is never used: no internet here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A page served by page.route has no network address of its own, so Chromium's Local
    # Network Access checks would block its socket to 127.0.0.1 (the real page is unaffected).
    "--disable-features=LocalNetworkAccessChecks",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium; the test fails with the reason if it cannot start."""
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:
            pytest.fail(
                f"Chromium could not start from {CHROMIUM}: {exc}\n"
                "Install Debian's chromium (scripts/ensure_chromium.sh) or set CHROMIUM_PATH."
            )
        try:
            yield launched
        finally:
            launched.close()
