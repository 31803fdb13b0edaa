"""`python -m insights.server`: the insights page, for bot designers and support leads.

- Only operators get in: `Authorization: Bearer <OPERATOR_TOKEN>`, or the session cookie the
  login form sets after checking the same token (HttpOnly, SameSite=Strict, signed, expiring).
  Without a configured token every page is refused. Repeated wrong tokens from one address
  are locked out for a while.
- The page runs no script and loads nothing from elsewhere (its Content-Security-Policy says
  so); charts are images drawn on the server.
- The overview is built in a worker thread, so one slow query never stalls other requests,
  and kept for INSIGHTS_CACHE_S. A database that does not answer gets a plain 503 page.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import logging
import re
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import psycopg2
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from insights.page import render
from personalization.auth.bearer import presents
from personalization.insights.nlu_candidates import candidates_yaml
from personalization.insights.overview import Overview, build_overview
from personalization.insights.queries import InsightsRepository
from personalization.settings import ConfigurationError, DatabaseSettings, InsightsSettings
from personalization.store import Database, StoreUnavailable
from stack import listening, log_privacy

log = logging.getLogger(__name__)

COOKIE = "insights_session"
# What a database that is down or too slow raises: a plain 503 page, never a traceback.
DATABASE_DOWN = (StoreUnavailable, ConnectionError, psycopg2.Error)
_DAYS = re.compile(r"[0-9]{1,3}")
# Only a token is ever posted here: anything larger is refused before it is read.
MAX_REQUEST_BYTES = 16 * 1024
OPEN_PATHS = {"/insights/health", "/insights/login"}
LOCKOUT_FAILURES = 10
LOCKOUT_S = 15 * 60
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Insights: sign in</title><style>body{{font-family:system-ui,sans-serif;margin:60px}}
input{{font-size:15px;padding:6px;width:380px}}.error{{color:#b5505a}}</style></head><body>
<h1>Support bot insights</h1><p>Operators only: paste the operator token.</p>{message}
<form method="post" action="/insights/login"><input type="password" name="token"
autocomplete="off" aria-label="Operator token" autofocus>
<button type="submit">Sign in</button></form></body></html>"""


class Sessions:
    """Signed, expiring session values; the key is derived from the operator token, so a new
    token ends every session."""

    def __init__(self, token: str, hours: int) -> None:
        self._key = hashlib.sha256(b"insights-session\x00" + token.encode()).digest()
        self._seconds = hours * 3600

    def issue(self, now: float | None = None) -> str:
        expires = int((now or time.time()) + self._seconds)
        return f"{expires}.{self._sign(expires)}"

    def valid(self, value: str | None, now: float | None = None) -> bool:
        if not value or "." not in value:
            return False
        expires, signature = value.split(".", 1)
        if not expires.isdigit() or int(expires) < (now or time.time()):
            return False
        return hmac.compare_digest(signature, self._sign(int(expires)))

    def _sign(self, expires: int) -> str:
        return hmac.new(self._key, str(expires).encode(), hashlib.sha256).hexdigest()

    @property
    def max_age(self) -> int:
        return self._seconds


class Lockout:
    """Wrong tokens per client address; too many in the window locks that address out."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}

    def locked(self, client: str, now: float | None = None) -> bool:
        now = now or time.monotonic()
        recent = [t for t in self._failures.get(client, []) if now - t < LOCKOUT_S]
        if recent:
            self._failures[client] = recent
        else:
            self._failures.pop(client, None)
        return len(recent) >= LOCKOUT_FAILURES

    def fail(self, client: str, now: float | None = None) -> None:
        self._failures.setdefault(client, []).append(now or time.monotonic())


def create_app(settings: InsightsSettings, db: Database, name: str = "insights") -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
    building = asyncio.Lock()  # one page build at a time: each scans the events table
    sessions = Sessions(settings.token, settings.session_hours) if settings.token else None
    lockout = Lockout()
    cache: dict[int, tuple[float, Overview]] = {}
    if not settings.token:
        log.error("OPERATOR_TOKEN is not set: the insights page refuses everyone")

    def authorised(request: Request) -> bool:
        if not settings.token or sessions is None:
            return False
        if sessions.valid(request.cookies.get(COOKIE)):
            return True
        if not request.headers.get("authorization"):
            return False
        client = _client(request)
        if lockout.locked(client):
            return False
        if presents(request.headers.get("authorization"), settings.token):
            return True
        lockout.fail(client)  # a wrong bearer token is a guess like a wrong form entry
        return False

    @app.on_request
    async def require_operator(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or authorised(request):
            return None
        if request.headers.get("authorization") or request.path.endswith(".yml"):
            return response.json({"error": "unauthorised"}, status=401)
        return response.redirect("/insights/login")

    @app.on_response
    async def secure(request: Request, reply: HTTPResponse) -> None:
        for header, value in SECURITY_HEADERS.items():
            reply.headers.setdefault(header, value)

    @app.get("/insights/health")
    async def health(_request: Request) -> HTTPResponse:
        return response.text("ok")

    @app.get("/insights/login")
    async def login_form(_request: Request) -> HTTPResponse:
        return response.html(LOGIN_PAGE.format(message=""))

    @app.post("/insights/login")
    async def login(request: Request) -> HTTPResponse:
        client = _client(request)
        if lockout.locked(client):
            return response.html(
                LOGIN_PAGE.format(
                    message='<p class="error">Too many wrong tokens: wait a quarter of an hour.</p>'
                ),
                status=429,
            )
        given = (request.form.get("token") or "").strip() if request.form else ""
        if (
            not settings.token
            or sessions is None
            or not hmac.compare_digest(given.encode(), settings.token.encode())
        ):
            lockout.fail(client)
            await asyncio.sleep(0.5)
            return response.html(
                LOGIN_PAGE.format(message='<p class="error">That token is not right.</p>'),
                status=401,
            )
        reply = response.redirect("/insights/")
        reply.cookies[COOKIE] = sessions.issue()
        cookie = reply.cookies[COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/insights"
        cookie["max-age"] = sessions.max_age
        if request.scheme == "https" or request.headers.get("x-forwarded-proto") == "https":
            cookie["secure"] = True
        return reply

    @app.get("/insights/logout")
    async def logout(_request: Request) -> HTTPResponse:
        reply = response.redirect("/insights/login")
        reply.cookies[COOKIE] = ""
        reply.cookies[COOKIE]["path"] = "/insights"  # the cookie's own path, or it stays
        reply.cookies[COOKIE]["max-age"] = 0
        return reply

    async def overview_for(days: int) -> Overview:
        async with building:
            kept = cache.get(days)
            if kept is not None and time.monotonic() - kept[0] < settings.cache_s:
                return kept[1]
            built = await asyncio.get_running_loop().run_in_executor(
                None, lambda: build_overview(db, days)
            )
            for stale in [d for d, (at, _) in cache.items() if time.monotonic() - at > 3600]:
                del cache[stale]
            cache[days] = (time.monotonic(), built)
            return built

    @app.get("/insights/")
    async def page(request: Request) -> HTTPResponse:
        days = _days(request, settings.default_days)
        if days is None:
            return response.html("<p>days must be a whole number from 1 to 366</p>", status=400)
        try:
            overview = await overview_for(days)
            body = await asyncio.get_running_loop().run_in_executor(None, render, overview)
        except DATABASE_DOWN as exc:
            return _unavailable(exc)
        return response.html(body)

    @app.get("/insights/nlu-candidates.yml")
    async def nlu_candidates(request: Request) -> HTTPResponse:
        days = _days(request, settings.default_days)
        if days is None:
            return response.text("days must be a whole number from 1 to 366", status=400)
        until = datetime.now(timezone.utc)
        since = until - timedelta(days=days)
        try:
            rows = await asyncio.get_running_loop().run_in_executor(
                None, lambda: InsightsRepository(db).not_understood(since, limit=500)
            )
        except DATABASE_DOWN as exc:
            return _unavailable(exc)
        return response.text(
            candidates_yaml(rows, since, until),
            content_type="application/yaml; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="nlu-candidates-{until.date()}.yml"'
            },
        )

    return app


def _client(request: Request) -> str:
    """The peer's address. Behind a proxy every operator shares the proxy's: keep the page on
    a private address, or put the proxy's own authentication in front of it."""
    return request.ip or "unknown"


def _days(request: Request, default: int) -> int | None:
    raw = request.args.get("days")
    if raw is None:
        return default
    if not _DAYS.fullmatch(raw) or not 1 <= int(raw) <= 366:
        return None
    return int(raw)


def _unavailable(exc: BaseException) -> HTTPResponse:
    log.warning("insights: the database did not answer (%s)", type(exc).__name__)
    return response.html(
        "<h1>The database is not answering</h1><p>Try again in a minute.</p>"
        f"<p>({html.escape(type(exc).__name__)})</p>",
        status=503,
    )


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log_privacy.install()
    try:
        settings = InsightsSettings.from_env()
        database = DatabaseSettings.from_env()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        sock = listening.listen_early(settings.host, settings.port)
    except OSError as exc:
        print(
            f"error: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    db = Database(replace(database, statement_timeout_ms=settings.statement_timeout_ms))
    app = create_app(settings, db)
    app.run(sock=sock, access_log=False, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
