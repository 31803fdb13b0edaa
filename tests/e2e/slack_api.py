"""A local HTTP server in the place of Slack's Web API, recording every call the bot makes.

The bot's Slack channel posts to SLACK_API_URL; pointing it here lets a test read the reply
that would have been posted to Slack. `users.info` answers with the emails the test gives.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class ApiCall:
    method: str
    args: dict[str, Any]
    authorization: str


@dataclass
class RecordingSlackApi:
    emails: dict[str, str] = field(default_factory=dict)  # Slack user id → account email
    calls: list[ApiCall] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def start(self) -> RecordingSlackApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, args: dict[str, Any]) -> None:
                method = urlparse(self.path).path.rsplit("/", 1)[-1]
                api.calls.append(ApiCall(method, args, self.headers.get("Authorization", "")))
                body = json.dumps(api.answer(method, args)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                self._answer({k: v[0] for k, v in query.items()})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                self._answer(args)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "users.info":
            user = args.get("user", "")
            if user not in self.emails:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "profile": {"email": self.emails[user]}}}
        if method == "chat.postMessage":
            return {"ok": True, "channel": args.get("channel"), "ts": f"{time.time():.6f}"}
        return {"ok": True}

    def posted(self, channel: str) -> list[str]:
        return [
            str(c.args.get("text", ""))
            for c in self.calls
            if c.method == "chat.postMessage" and c.args.get("channel") == channel
        ]

    def wait_for_posts(self, channel: str, at_least: int, timeout_s: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            texts = self.posted(channel)
            if len(texts) >= at_least:
                time.sleep(1)  # the rest of the same turn
                return self.posted(channel)
            time.sleep(0.2)
        return self.posted(channel)
