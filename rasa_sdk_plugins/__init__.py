"""The action server's door: rasa-sdk loads this package as its plugin (``rasa_sdk.plugin``).

So ``rasa run actions``, ``python -m rasa_sdk`` and the stack's own start all get the same
guard:

- every call but ``/health`` must carry ``Authorization: Bearer <ACTION_SERVER_TOKEN>``, the
  secret that ``endpoints.yml`` makes Rasa send; anything else is answered 401. With no
  secret configured every call is refused, so a forgotten setting fails closed;
- the server listens on ACTION_LISTEN_HOST (127.0.0.1 unless configured), not on every
  interface as rasa-sdk would by default;
- an error is answered with a short message, never with the request body (rasa-sdk's own
  handler echoes the whole tracker, customer data included, back to the caller and the log);
- ``/metrics`` serves the process's Prometheus metrics, behind the same secret, with each
  action's latency and errors (``time_actions``);
- its logs carry no customer text: every record is scrubbed (stack/log_privacy.py).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from personalization import metrics
from personalization.auth.bearer import presents
from personalization.settings import ActionServerSettings
from stack import log_privacy

log = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa_sdk")
OPEN_PATHS = {"/health"}


def authorised(request: Request, token: str) -> bool:
    return presents(request.headers.get("authorization"), token)


def guard(app: Sanic, settings: ActionServerSettings) -> None:
    if not settings.token:
        log.error(
            "ACTION_SERVER_TOKEN is not set: the action server refuses every call. Set the "
            "same secret for Rasa (endpoints.yml sends it) and for this server."
        )

    @app.on_request
    async def require_secret(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or authorised(request, settings.token):
            return None
        return response.json({"error": "unauthorised"}, status=401)

    @app.exception(Exception)
    async def quiet_error(request: Request, exception: Exception) -> HTTPResponse:
        log.error("action server error on %s: %s", request.path, type(exception).__name__)
        return response.json({"error": "the action failed"}, status=500)

    @app.get("/metrics", name="shop_metrics")
    async def serve_metrics(_request: Request) -> HTTPResponse:
        return response.raw(metrics.exposition(), content_type=metrics.CONTENT_TYPE)


def time_actions() -> None:
    """Time every action run and count the ones that raise, by action name (once per
    process). Only names the executor registered become labels: an unknown name is
    "unknown", so a caller cannot grow the metrics without bound."""
    from rasa_sdk.executor import ActionExecutor

    if getattr(ActionExecutor.run, "_timed", False):
        return
    original = ActionExecutor.run

    async def run(self: ActionExecutor, action_call: dict[str, Any]) -> Any:
        name = action_call.get("next_action")
        label = name if isinstance(name, str) and name in self.actions else "unknown"
        started = time.perf_counter()
        try:
            return await original(self, action_call)
        except Exception as exc:
            metrics.ACTION_ERRORS.labels(action=label, error=type(exc).__name__).inc()
            raise
        finally:
            metrics.ACTION_SECONDS.labels(action=label).observe(time.perf_counter() - started)

    run._timed = True  # type: ignore[attr-defined]
    ActionExecutor.run = run  # type: ignore[method-assign]


class ShopActionServerPlugin:
    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        log_privacy.install()
        settings = ActionServerSettings.from_env()
        # rasa-sdk reads SANIC_HOST right after this hook and would default to 0.0.0.0.
        os.environ["SANIC_HOST"] = settings.listen_host
        guard(app, settings)
        time_actions()


def init_hooks(manager: Any) -> None:
    manager.register(ShopActionServerPlugin())
