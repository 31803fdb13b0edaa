"""The web chat page and the help-article pages its links open, served by the Rasa server.

Served from the same origin as Rasa's ``socketio`` channel, so the page needs no CORS and
no address of its own: ``/webhooks/chat/`` is the page, ``/socket.io`` the conversation. The
page's files are in ``webchat/``; the socket.io client comes from the npm registry at set-up
(``webchat/node_modules``), never from a CDN.

Every response carries a Content-Security-Policy that allows only this origin's scripts and
styles: even if text were ever inserted as HTML by mistake, no script in a message could run.

Who the customer is comes from a customer token (``personalization.auth.tokens``): the shop's
signed-in page renders the token its backend minted into ``data-customer-token``, and the page
sends it with every message. Nothing the page claims about itself counts.

In demo mode only (``DEMO_MODE=1``, never in production), ``/webhooks/chat/demo-token`` mints
a short-lived token for any demo customer (``cust-0001`` …), so the local demo link
``/webhooks/chat/?customer=cust-0001`` chats as Alice. Anyone who can reach the server can
then be any demo customer; without demo mode, or without an HS* ``CUSTOMER_TOKEN_SECRET`` to
sign with, the route answers 404.
"""

from __future__ import annotations

import html
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import markdown
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.origins import allowed_origins
from personalization.auth.tokens import CUSTOMER_ID, MIN_SECRET_BYTES, mint_token
from personalization.help_center import CONTENT_DIR, ArticleFormatError, parse_article
from personalization.settings import IdentitySettings, TokenSettings

log = logging.getLogger(__name__)

WEBCHAT_DIR = Path(__file__).resolve().parent.parent / "webchat"
PAGE_FILES = {"chat.js", "chat.css", "favicon.svg"}
SOCKET_IO_CLIENT = WEBCHAT_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
DEMO_CUSTOMER_ID = re.compile(r"^cust-\d{4}$")
DEMO_TOKEN_TTL_S = 900
NO_STORE = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
ARTICLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Hearth &amp; Home help</title>
<link rel="stylesheet" href="../static/chat.css"></head>
<body class="article-page"><main class="article">
<p class="article-crumb">Hearth &amp; Home · Help centre</p>
<h1>{title}</h1>
{body}
</main></body></html>
"""


def _file(path: Path, cache_s: int = 300) -> HTTPResponse:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    return response.raw(
        path.read_bytes(),
        content_type=content_type,
        headers={**SECURITY_HEADERS, "Cache-Control": f"public, max-age={cache_s}"},
    )


def _not_found(what: str) -> HTTPResponse:
    return response.text(f"{what} not found", status=HTTPStatus.NOT_FOUND, headers=SECURITY_HEADERS)


def demo_token_settings() -> TokenSettings | None:
    """The settings demo tokens are minted under, or None when the demo may not mint any.

    Minting needs demo mode and a shared (HS*) secret; with a public-key algorithm the bot
    has no private key, and a short secret would not be accepted by the verifier.
    """
    if not IdentitySettings.from_env().demo_mode:
        return None
    log.warning("demo mode: anyone can be a demo customer; never in production")
    settings = TokenSettings.from_env()
    if not settings.algorithm.startswith("HS") or len(settings.secret) < MIN_SECRET_BYTES:
        log.warning(
            "demo mode is on, but the web chat cannot mint demo customer tokens without an "
            "HS* CUSTOMER_TOKEN_SECRET of at least %d characters; ?customer= links stay "
            "anonymous",
            MIN_SECRET_BYTES,
        )
        return None
    return settings


def served_to_own_host(request: Request) -> bool:
    """Whether the request names this server's own host: a page on another domain that
    rebinds its name to 127.0.0.1 reaches the port, but sends its own Host header."""
    hosts = {urlsplit(origin).netloc.lower() for origin in allowed_origins()}
    return (request.headers.get("host") or "").lower() in hosts


def demo_token_response(customer: object, settings: TokenSettings | None) -> HTTPResponse:
    """A token for a demo customer: 404 without demo minting, 400 for anything but a demo id."""
    if settings is None:
        return response.text("not found", status=HTTPStatus.NOT_FOUND, headers=NO_STORE)
    if (
        not isinstance(customer, str)
        or not CUSTOMER_ID.fullmatch(customer)  # fullmatch: "$" would let "…\n" through
        or not DEMO_CUSTOMER_ID.fullmatch(customer)
    ):
        return response.text(
            "customer must be a demo customer id (cust-0001)",
            status=HTTPStatus.BAD_REQUEST,
            headers=NO_STORE,
        )
    token = mint_token(
        customer,
        settings.secret,
        settings.audience,
        ttl_s=min(DEMO_TOKEN_TTL_S, settings.max_lifetime_s),
        algorithm=settings.algorithm,
        issuer=settings.issuer,
    )
    return response.json({"token": token}, headers=NO_STORE)


def render_article(article_id: str, directory: Path = CONTENT_DIR) -> str | None:
    """The article as an HTML page, or None if there is no such article.

    The id is checked against the files that exist, so no path from a URL reaches the disk.
    """
    known = {p.stem: p for p in directory.glob("*.md")}
    path = known.get(article_id)
    if path is None:
        return None
    try:
        article = parse_article(path)
    except ArticleFormatError as exc:
        log.warning("help article %s cannot be shown: %s", article_id, exc)
        return None
    # Articles are the shop's own files in this repository, written by its editors.
    body = markdown.markdown(article.body, output_format="html")
    return ARTICLE_PAGE.format(title=html.escape(article.title), body=body)


class WebChatPage(InputChannel):
    """Not a conversation channel of its own: the page talks to Rasa over ``socketio``."""

    def __init__(self, demo_tokens: TokenSettings | None = None) -> None:
        self.demo_tokens = demo_tokens

    @classmethod
    def name(cls) -> str:
        return "chat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if not SOCKET_IO_CLIENT.is_file():
            log.warning(
                "the web chat's socket.io client is missing (%s); run `make setup`",
                SOCKET_IO_CLIENT,
            )
        return cls(demo_token_settings())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("webchat_page", __name__)

        @blueprint.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):  # the page's links are relative to the folder
                query = f"?{request.query_string}" if request.query_string else ""
                return response.redirect(f"{request.path}/{query}")
            return _file(WEBCHAT_DIR / "index.html", cache_s=0)

        @blueprint.route("/static/<name:str>", methods=["GET"])
        async def static(_: Request, name: str) -> HTTPResponse:
            if name not in PAGE_FILES:
                return _not_found("file")
            return _file(WEBCHAT_DIR / name)

        @blueprint.route("/vendor/socket.io.min.js", methods=["GET"])
        async def socket_io_client(_: Request) -> HTTPResponse:
            if not SOCKET_IO_CLIENT.is_file():
                return _not_found("socket.io client (run `make setup`)")
            return _file(SOCKET_IO_CLIENT, cache_s=86400)

        @blueprint.route("/demo-token", methods=["GET"])
        async def demo_token(request: Request) -> HTTPResponse:
            if not served_to_own_host(request):
                return _not_found("demo token")
            return demo_token_response(request.args.get("customer"), self.demo_tokens)

        @blueprint.route("/help/<article_id:str>", methods=["GET"])
        async def article(_: Request, article_id: str) -> HTTPResponse:
            page = render_article(article_id)
            if page is None:
                return _not_found("article")
            return response.html(page, headers=SECURITY_HEADERS)

        return blueprint
