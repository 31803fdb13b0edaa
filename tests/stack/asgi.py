"""Requests to a Sanic app through its ASGI interface, in the test's own event loop.

sanic-testing (behind ``app.test_client`` and ``app.asgi_client``) is not installed, and a
real server would need a free port and a thread; Sanic is an ASGI application as it is, so
a request is a scope, one body message and the response messages collected.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sanic import Sanic


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def _start(app: Sanic) -> None:
    """Sanic finalises its routes and runs its start-up listeners on ASGI's lifespan.startup."""
    messages = [{"type": "lifespan.startup"}]
    sent: list[dict[str, Any]] = []
    forever = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await forever.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    task = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    )
    for _ in range(500):
        if sent:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert sent == [{"type": "lifespan.startup.complete"}], sent


async def _request(
    app: Sanic, method: str, path: str, body: bytes, headers: Iterable[tuple[str, str]]
) -> Reply:
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 5055),
    }
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    [start] = [m for m in sent if m["type"] == "http.response.start"]
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Reply(start["status"], content)


class Client:
    """Started once; then one request at a time, in its own event loop (set as the current
    one, as Sanic asks for it, and unset on close, as `asyncio.run` does)."""

    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(_start(app))

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        headers = dict(headers or {})
        body = b""
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("content-type", "application/json")
        return self.loop.run_until_complete(_request(self.app, method, path, body, headers.items()))

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, json_body, **kwargs)

    def close(self) -> None:
        self.loop.close()
        asyncio.set_event_loop(None)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
