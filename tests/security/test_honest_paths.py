"""The honest ways in still work: the tokens a shop's backend or the CLI mints are accepted."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.stack import CUSTOMER_TOKEN_SECRET, RunningStack, any_welcome_back, order_prefix

pytestmark = pytest.mark.e2e


def minted_by(command: list[str]) -> str:
    env = {**os.environ, "CUSTOMER_TOKEN_SECRET": CUSTOMER_TOKEN_SECRET}
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_readme_curl_sample_with_a_cli_token_greets_the_customer(stack: RunningStack) -> None:
    token = minted_by([sys.executable, "-m", "personalization", "token", "cust-0001"])
    texts = stack.texts(f"alice-phone-{uuid.uuid4().hex[:6]}", "hi", token=token)
    assert texts[0] in any_welcome_back("Alice")
    assert any(order_prefix("cust-0001") in t for t in texts), "her parcel is mentioned"


def test_the_shop_backend_sample_mints_a_token_the_bot_accepts(stack: RunningStack) -> None:
    token = minted_by([sys.executable, "examples/shop_backend_token.py", "cust-0003"])
    texts = stack.texts(f"shop-page-{uuid.uuid4().hex[:6]}", "hello", token=token)
    assert texts[0] in any_welcome_back("Chloé")
    snippet = minted_by([sys.executable, "examples/shop_backend_token.py", "cust-0003", "--html"])
    assert snippet.startswith('<div class="chat" id="chat" data-customer-token="ey')
