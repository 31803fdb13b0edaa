from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sanic.response import HTTPResponse

from channels.webchat import PAGE_FILES, SECURITY_HEADERS, WEBCHAT_DIR, WebChatPage, render_article
from personalization.auth.tokens import CustomerTokenVerifier, InvalidToken
from personalization.settings import TokenSettings


def test_every_file_the_page_loads_is_served() -> None:
    page = (WEBCHAT_DIR / "index.html").read_text()
    for name in PAGE_FILES:
        assert (WEBCHAT_DIR / name).is_file()
    assert 'src="static/chat.js"' in page and 'href="static/chat.css"' in page
    assert 'src="vendor/socket.io.min.js"' in page
    assert "http" not in page.replace("http-equiv", ""), "no address outside the server"


def test_an_article_page_is_rendered_from_its_markdown(tmp_path: Path) -> None:
    (tmp_path / "gift-wrap.md").write_text(
        "# Gift <wrapping>\ntags: gifts\n\nWe wrap **any** order.\n\n- ribbon\n- card\n"
    )
    page = render_article("gift-wrap", tmp_path)
    assert page is not None
    assert "<h1>Gift &lt;wrapping&gt;</h1>" in page
    assert "<strong>any</strong>" in page and "<li>ribbon</li>" in page


def test_only_existing_articles_are_served(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("# Real\ntags: x\n\nBody.\n")
    assert render_article("../real", tmp_path) is None
    assert render_article("missing", tmp_path) is None
    (tmp_path / "broken.md").write_text("no title line\n")
    assert render_article("broken", tmp_path) is None


SECRET = "a-demo-signing-secret-of-32-chars-or-more"


class FakeRequest:
    """Enough of a Sanic request: `args.get` gives the first value, as Sanic's does, and the
    Host header names the server (127.0.0.1:5005 unless said otherwise)."""

    def __init__(self, host: str = "127.0.0.1:5005", **args: str) -> None:
        self.args = args
        self.headers = {"host": host}


def demo_token_route(channel: WebChatPage) -> Callable[..., Awaitable[HTTPResponse]]:
    async def on_new_message(_: object) -> None:
        return None

    blueprint = channel.blueprint(on_new_message)
    routes = [r for r in blueprint._future_routes if r.uri == "/demo-token"]
    assert len(routes) == 1 and routes[0].methods == frozenset({"GET"})
    return routes[0].handler


def ask(host: str = "127.0.0.1:5005", **args: str) -> HTTPResponse:
    handler = demo_token_route(WebChatPage.from_credentials(None))
    return asyncio.run(handler(FakeRequest(host, **args)))


@pytest.fixture(autouse=True)
def token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DEMO_MODE",
        "CUSTOMER_TOKEN_SECRET",
        "CUSTOMER_TOKEN_ALGORITHM",
        "CUSTOMER_TOKEN_PUBLIC_KEY_FILE",
        "CUSTOMER_TOKEN_AUDIENCE",
        "CUSTOMER_TOKEN_ISSUER",
        "CUSTOMER_TOKEN_MAX_LIFETIME_S",
    ):
        monkeypatch.delenv(name, raising=False)


def test_without_demo_mode_there_are_no_demo_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", SECRET)
    reply = ask(customer="cust-0001")
    assert reply.status == 404
    assert b"eyJ" not in reply.body  # no JWT
    assert reply.headers["Cache-Control"] == "no-store"
    monkeypatch.setenv("DEMO_MODE", "0")
    assert ask(customer="cust-0001").status == 404


def test_demo_mode_without_a_shared_secret_mints_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DEMO_MODE", "1")
    with caplog.at_level(logging.WARNING, logger="channels.webchat"):
        assert ask(customer="cust-0001").status == 404
    assert "never in production" in caplog.text
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", "too-short")
    assert ask(customer="cust-0001").status == 404
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("CUSTOMER_TOKEN_ALGORITHM", "RS256")
    assert ask(customer="cust-0001").status == 404


def test_in_demo_mode_a_demo_customer_gets_a_token_the_channels_accept(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DEMO_MODE", "1")
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("CUSTOMER_TOKEN_ISSUER", "hearth-shop")
    with caplog.at_level(logging.WARNING, logger="channels.webchat"):
        reply = ask(customer="cust-0001")
    assert "demo mode: anyone can be a demo customer; never in production" in caplog.text
    assert reply.status == 200
    assert reply.headers["Cache-Control"] == "no-store"
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name] == value
    token = json.loads(reply.body)["token"]
    verifier = CustomerTokenVerifier.from_settings(TokenSettings.from_env())
    assert verifier is not None
    verified = verifier.verify(token)
    assert verified.customer_id == "cust-0001"
    assert verified.expires_at - verified.issued_at == 900
    other = CustomerTokenVerifier(
        "another-secret-of-at-least-32-chars!!", "HS256", "hearth-home-support"
    )
    with pytest.raises(InvalidToken):
        other.verify(token)


def test_a_demo_token_lives_no_longer_than_tokens_may(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_MODE", "1")
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("CUSTOMER_TOKEN_MAX_LIFETIME_S", "300")
    token = json.loads(ask(customer="cust-0002").body)["token"]
    verifier = CustomerTokenVerifier.from_settings(TokenSettings.from_env())
    assert verifier is not None
    verified = verifier.verify(token)
    assert verified.customer_id == "cust-0002"
    assert verified.expires_at - verified.issued_at == 300


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"customer": ""},
        {"customer": "alice"},
        {"customer": "cust-1"},
        {"customer": "cust-00001"},
        {"customer": "cust-000a"},
        {"customer": "cust-0001 "},
        {"customer": "cust-0001\n"},
        {"customer": "../cust-0001"},
        {"customer": "cust-0001<script>"},
    ],
)
def test_only_demo_customer_ids_get_a_token(
    monkeypatch: pytest.MonkeyPatch, args: dict[str, str]
) -> None:
    monkeypatch.setenv("DEMO_MODE", "1")
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", SECRET)
    reply = ask(**args)
    assert reply.status == 400
    assert reply.headers["Cache-Control"] == "no-store"
    assert b"eyJ" not in reply.body


def test_the_page_has_a_slot_for_the_token_and_sends_no_customer_id() -> None:
    page = (WEBCHAT_DIR / "index.html").read_text()
    script = (WEBCHAT_DIR / "chat.js").read_text()
    assert 'data-customer-token=""' in page and "data-customer-id" not in page
    assert "customer_token" in script and "customer_id" not in script
    assert "customerId" not in script and "demo-token?customer=" in script


def test_a_page_of_another_domain_rebound_to_this_server_gets_no_demo_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_MODE", "1")
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("RASA_HOST", "127.0.0.1")
    monkeypatch.setenv("RASA_PORT", "5005")
    assert ask(customer="cust-0001").status == 200
    assert ask(customer="cust-0001", host="localhost:5005").status == 200
    assert ask(customer="cust-0001", host="attacker.example:5005").status == 404
    assert ask(customer="cust-0001", host="").status == 404
