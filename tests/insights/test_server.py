"""The insights server's door and failures, over HTTP."""

from __future__ import annotations

import http.client
import urllib.parse
from pathlib import Path

from tests.insights.conftest import InsightsServer, running_server


def request(
    server: InsightsServer,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    parts = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request(method, path, body=body, headers=headers or {})
    reply = connection.getresponse()
    reply.read_body = reply.read()  # type: ignore[attr-defined]
    connection.close()
    return reply


def login(server: InsightsServer, token: str) -> http.client.HTTPResponse:
    return request(
        server,
        "POST",
        "/insights/login",
        body=urllib.parse.urlencode({"token": token}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def test_nothing_is_shown_without_the_operator_token(insights: InsightsServer) -> None:
    page = request(insights, "GET", "/insights/")
    assert page.status == 302 and page.getheader("location") == "/insights/login"
    export = request(insights, "GET", "/insights/nlu-candidates.yml")
    assert export.status == 401
    wrong = request(insights, "GET", "/insights/", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    forged = request(
        insights, "GET", "/insights/", headers={"Cookie": "insights_session=9999999999.deadbeef"}
    )
    assert forged.status == 302


def test_the_token_gives_a_signed_session_cookie_and_a_locked_down_page(
    insights: InsightsServer,
) -> None:
    signed_in = login(insights, insights.token)
    assert signed_in.status == 302
    cookie = signed_in.getheader("set-cookie")
    assert cookie.startswith("insights_session=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/insights"):
        assert attribute.lower() in cookie.lower(), attribute
    session = cookie.split(";")[0]
    page = request(insights, "GET", "/insights/?days=7", headers={"Cookie": session})
    assert page.status == 200 and b"Support bot insights" in page.read_body
    policy = page.getheader("content-security-policy")
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert b"<script" not in page.read_body, "the page runs no script"
    bad = request(insights, "GET", "/insights/?days=9999", headers={"Cookie": session})
    assert bad.status == 400


def test_logging_out_removes_the_cookie_from_its_own_path(insights: InsightsServer) -> None:
    out = request(insights, "GET", "/insights/logout", headers={"Cookie": login_cookie(insights)})
    removal = out.getheader("set-cookie").lower()
    assert removal.startswith('insights_session=""') or removal.startswith("insights_session=;")
    assert "path=/insights" in removal and "max-age=0" in removal


def test_a_malformed_period_is_a_clear_400(insights: InsightsServer) -> None:
    for days in ("%C2%B2", "-1", "0", "abc", "1000"):
        reply = request(
            insights, "GET", f"/insights/?days={days}", headers={"Cookie": login_cookie(insights)}
        )
        assert reply.status == 400, days


def test_repeated_wrong_tokens_lock_the_address_out(insights: InsightsServer) -> None:
    """Last in this module: it locks 127.0.0.1 out for a quarter of an hour."""
    guesses = [
        request(insights, "GET", "/insights/", headers={"Authorization": f"Bearer g{n}"})
        for n in range(5)
    ]
    assert [g.status for g in guesses] == [401] * 5
    statuses = [login(insights, f"guess-{n}").status for n in range(6)]
    # Ten wrong tokens lock out; the five bearer guesses (and one earlier) count among them.
    assert 429 in statuses and statuses.index(429) <= 5, statuses
    assert login(insights, insights.token).status == 429, "locked out, even with the token"
    bearer = request(
        insights, "GET", "/insights/", headers={"Authorization": f"Bearer {insights.token}"}
    )
    assert bearer.status == 401


def login_cookie(server: InsightsServer) -> str:
    return login(server, server.token).getheader("set-cookie").split(";")[0]


def test_a_database_that_does_not_answer_gets_a_plain_503(tmp_path: Path) -> None:
    with running_server("postgresql://shop@127.0.0.1:1/shop", tmp_path / "log") as server:
        reply = request(
            server, "GET", "/insights/", headers={"Authorization": f"Bearer {server.token}"}
        )
        assert reply.status == 503
        assert b"The database is not answering" in reply.read_body
        assert b"Traceback" not in reply.read_body
    assert "Traceback" not in (tmp_path / "log").read_text()


def test_without_a_configured_token_everyone_is_refused(tmp_path: Path) -> None:
    with running_server("postgresql://shop@127.0.0.1:1/shop", tmp_path / "log", token="") as server:
        assert login(server, "").status == 401
        assert (
            request(server, "GET", "/insights/", headers={"Authorization": "Bearer "}).status == 401
        )
