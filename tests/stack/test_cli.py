"""`python -m stack` reports failures in one line, never with a traceback."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from personalization.auth.tokens import CustomerTokenVerifier
from stack import environment
from tests.conftest import PROJECT_ROOT, Servers


def run_stack(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unreachable_database_is_one_clear_error(tmp_path: Path, servers: Servers) -> None:
    result = run_stack(
        "up",
        DATABASE_URL="postgresql://shop@127.0.0.1:1/shop",
        REDIS_URL=servers.redis_url,
        STACK_DATA_DIR=str(tmp_path),
        DB_CONNECT_TIMEOUT_S="2",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot connect to PostgreSQL")
    assert "Traceback" not in result.stderr


def test_malformed_redis_url_is_one_clear_error(tmp_path: Path, servers: Servers) -> None:
    result = run_stack(
        "env",
        DATABASE_URL=servers.database_url("postgres"),
        REDIS_URL="localhost:6379",
        STACK_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 1
    assert "REDIS_URL must look like redis://" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_prints_exports_for_configured_servers(tmp_path: Path, servers: Servers) -> None:
    result = run_stack(
        "env",
        DATABASE_URL=servers.database_url("postgres"),
        REDIS_URL=servers.redis_url,
        STACK_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines()
    )
    assert exports["TRACKER_KEY_PREFIX"] == "shopbot"
    for name, file in (
        ("ACTION_SERVER_TOKEN", "action-server.token"),
        ("CUSTOMER_TOKEN_SECRET", "customer-token.secret"),
    ):
        assert exports[name] == (tmp_path / file).read_text(), name
    assert exports["RASA_API_TOKEN_FILE"] == str(tmp_path / "rasa-api.token")
    assert "RASA_API_TOKEN" not in exports
    assert exports["REDIS_PORT"] == servers.redis_url.rsplit(":", 1)[1].split("/")[0]
    assert not (tmp_path / "postgres").exists(), "nothing embedded was started"


class FakeRasa(http.server.BaseHTTPRequestHandler):
    """Rasa's REST webhook as the terminal chat sees it; it keeps what it was sent."""

    received: ClassVar[list[tuple[dict[str, str], dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeRasa.received.append((dict(self.headers), body))
        reply = json.dumps([{"text": "Hello!"}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_rasa() -> Iterator[tuple[str, int]]:
    FakeRasa.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[:2]
    finally:
        server.shutdown()
        server.server_close()


def shell(address: tuple[str, int], data: Path, *args: str, **env: str) -> str:
    host, port = address
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CUSTOMER_TOKEN_", "RASA_", "STACK_"))
    }
    result = subprocess.run(
        [sys.executable, "-m", "stack", "shell", *args],
        cwd=PROJECT_ROOT,
        env={**base, "RASA_HOST": host, "RASA_PORT": str(port), "STACK_DATA_DIR": str(data), **env},
        input="hi\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "bot> Hello!" in result.stdout
    return result.stdout


def sent_token() -> str | None:
    [(headers, body)] = FakeRasa.received
    assert body == {"sender": "shell", "message": "hi"}
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    return token if scheme == "Bearer" else None


def test_the_shell_chats_as_a_demo_customer_with_a_token_the_stack_accepts(
    fake_rasa: tuple[str, int], tmp_path: Path
) -> None:
    out = shell(fake_rasa, tmp_path, "--customer", "cust-0002")
    assert "as a signed-in customer" in out
    token = sent_token()
    assert token is not None
    secret = (tmp_path / "customer-token.secret").read_text()
    assert secret == environment.local_secret(tmp_path, "customer-token.secret")
    verified = CustomerTokenVerifier(secret, "HS256", "hearth-home-support").verify(token)
    assert verified.customer_id == "cust-0002"


def test_the_shell_uses_the_configured_secret(fake_rasa: tuple[str, int], tmp_path: Path) -> None:
    secret = "configured-customer-token-secret-0123456789"
    shell(fake_rasa, tmp_path, CUSTOMER_TOKEN_SECRET=secret)
    verified = CustomerTokenVerifier(secret, "HS256", "hearth-home-support").verify(sent_token())
    assert verified.customer_id == "cust-0001", "the default demo customer"
    assert not (tmp_path / "customer-token.secret").exists()


def test_without_a_customer_the_shell_is_an_anonymous_visitor(
    fake_rasa: tuple[str, int], tmp_path: Path
) -> None:
    out = shell(fake_rasa, tmp_path, "--customer", "", "--sender", "shell")
    assert "as an anonymous visitor" in out
    assert sent_token() is None


def test_the_shell_token_names_the_configured_issuer(
    fake_rasa: tuple[str, int], tmp_path: Path
) -> None:
    secret = "configured-customer-token-secret-0123456789"
    issuer = "https://shop.example.com"
    shell(fake_rasa, tmp_path, CUSTOMER_TOKEN_SECRET=secret, CUSTOMER_TOKEN_ISSUER=issuer)
    verifier = CustomerTokenVerifier(secret, "HS256", "hearth-home-support", issuer=issuer)
    assert verifier.verify(sent_token()).customer_id == "cust-0001"
