"""`python -m stack.rasa_server --model PATH`: `rasa run` with its HTTP API behind a door.

Rasa's HTTP API reads and rewrites any conversation and loads models (pickles), and Rasa
checks its token only as a `?token=` query parameter, which lands in access logs. This
launcher runs Rasa's own `rasa run` with these changes:

- the API is off unless RASA_ENABLE_API=1;
- with it on, every route outside the channels (`/webhooks/…`, `/socket.io`) needs
  `Authorization: Bearer <token>`; the token comes from RASA_API_TOKEN or the file named by
  RASA_API_TOKEN_FILE, never from the command line;
- it refuses to start with the API on, no token and a non-loopback interface;
- CORS allows only the server's own origin and RASA_CORS_ORIGINS (channels/origins.py);
- ``/metrics`` serves the process's Prometheus metrics, behind the same token;
- its logs carry no customer text (stack/log_privacy.py);
- it checks the action server's answers with a validator built once (stack/action_results.py),
  keeps its connections to the action server alive and encodes the domain once
  (stack/action_calls.py), and copies nothing for debug lines it drops
  (stack/debug_snapshots.py);
- it serves a socket bound before Rasa is imported, or the one the runner passes down and
  keeps across restarts (stack/listening.py): Rasa binds its port only once the model is
  loaded, so every request of the 10-20 s of loading used to be refused.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.origins import allowed_origins
from personalization import metrics
from personalization.auth.bearer import presents
from personalization.settings import ConfigurationError, RasaServerSettings
from stack import (
    action_calls,
    action_results,
    debug_snapshots,
    event_types,
    heap,
    listening,
    log_privacy,
    message_admission,
)

log = logging.getLogger(__name__)

PUBLIC_PREFIXES = ("/webhooks/", "/socket.io")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_public(path: str) -> bool:
    return path == "/" or path.startswith(PUBLIC_PREFIXES)


def bearer_matches(request: Request, token: str) -> bool:
    return presents(request.headers.get("authorization"), token)


def install_api_guard(app: Sanic, token: str) -> None:
    """Every non-channel route answers 401 without the token (all of them when it is empty)."""

    @app.on_request
    async def require_api_token(request: Request) -> HTTPResponse | None:
        if request.method == "OPTIONS" or is_public(request.path):
            return None
        if bearer_matches(request, token):
            return None
        return response.json(
            {"error": "unauthorised", "help": "send Authorization: Bearer <RASA_API_TOKEN>"},
            status=401,
        )


def add_metrics_route(app: Sanic) -> None:
    """``GET /metrics``: Prometheus text format. Not a channel, so the API guard covers it."""

    @app.get("/metrics", name="shop_metrics")
    async def serve_metrics(_request: Request) -> HTTPResponse:
        return response.raw(metrics.exposition(), content_type=metrics.CONTENT_TYPE)


async def _show_model_version(app: Sanic, _loop: Any) -> None:
    """The Rasa model this server answers with, as ``shopbot_model_version_info``."""
    processor = getattr(getattr(app.ctx, "agent", None), "processor", None)
    metadata = getattr(processor, "model_metadata", None)
    metrics.serve_model("rasa", getattr(metadata, "model_id", None))


async def _close_action_pool(_app: Sanic, _loop: Any) -> None:
    """After the requests in flight have finished: closing the pool cuts its connections."""
    await action_calls.close_pool()


def guarded(configure_app: Callable[..., Sanic], token: str) -> Callable[..., Sanic]:
    def configure(*args: Any, **kwargs: Any) -> Sanic:
        app = configure_app(*args, **kwargs)
        install_api_guard(app, token)
        add_metrics_route(app)
        heap.freeze_once_serving(app)
        app.register_listener(_close_action_pool, "after_server_stop")
        app.register_listener(_show_model_version, "after_server_start")
        return app

    return configure


def serve_on(sock: socket.socket) -> None:
    """Make Rasa's ``app.run(host=..., port=...)`` serve the socket bound early instead."""
    from sanic import Sanic

    stock_run = Sanic.run

    def run(self: Sanic, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("host", None)
        kwargs.pop("port", None)
        kwargs["backlog"] = listening.BACKLOG  # Sanic listens again on the socket with it
        stock_run(self, *args, sock=sock, **kwargs)

    Sanic.run = run  # type: ignore[method-assign]


def rasa_arguments(args: argparse.Namespace, settings: RasaServerSettings) -> list[str]:
    argv = [
        "rasa",
        "run",
        "--model",
        args.model,
        "--interface",
        settings.host,
        "--port",
        str(settings.port),
        "--endpoints",
        args.endpoints,
        "--credentials",
        args.credentials,
        "--cors",
        *allowed_origins(),
    ]
    return [*argv, "--enable-api"] if settings.enable_api else argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.rasa_server", description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--endpoints", default="endpoints.yml")
    parser.add_argument("--credentials", default="credentials.yml")
    args = parser.parse_args(argv)
    try:
        settings = RasaServerSettings.from_env()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.enable_api and not settings.api_token and not is_loopback(settings.host):
        print(
            f"error: refusing to serve Rasa's HTTP API on {settings.host} without a token; "
            "set RASA_API_TOKEN or RASA_API_TOKEN_FILE, or RASA_ENABLE_API=0",
            file=sys.stderr,
        )
        return 2
    if settings.enable_api and not settings.api_token:
        log.warning("Rasa's HTTP API is on without a token: it answers 401 to every call")

    try:
        sock = (
            listening.inherited(settings.listen_fd)
            if settings.listen_fd is not None
            else listening.listen_early(settings.host, settings.port)
        )
    except (OSError, ValueError) as exc:
        print(f"error: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 2

    import rasa.__main__
    import rasa.core.run

    log_privacy.install()
    log_privacy.install_rasa_structlog()
    rasa.core.run.configure_app = guarded(rasa.core.run.configure_app, settings.api_token)
    serve_on(sock)
    sys.argv = rasa_arguments(args, settings)
    action_results.install()
    event_types.install()
    debug_snapshots.install()
    message_admission.install(settings.message_concurrency)
    try:
        action_calls.install()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rasa.__main__.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
