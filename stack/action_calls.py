"""Retry Rasa's calls to the action server that certainly never reached it.

Rasa 3.6 runs a custom action with one POST (`RemoteAction.run` →
`EndpointConfig.request`). While the supervised action server restarts (back in about
2-5 s), or when a pooled keep-alive connection was already closed by it, that POST fails
with aiohttp's `ClientConnectorError` or `ClientOSError`, Rasa logs an error and the
customer gets an empty answer (an `action_session_start` can be lost).

`install()` patches both methods so that, inside `RemoteAction.run` and for its action
endpoint only, a call is sent again with a short back-off (0.25 s doubling, at most 1 s
apart) for up to `ACTION_CALL_RETRY_S` seconds (personalization/settings.py) when the
request certainly was not delivered:

- the connection could not be made (refused, unreachable, name not resolved), TLS
  failures aside: they do not heal by waiting;
- aiohttp could not write the request (`Can not write request body`, `Cannot write to
  closing transport`);
- a connection reused from the pool was reset or closed before any response arrived: the
  server had closed it while idle.

An action is not idempotent, so a call is never sent again once a response has started,
after a timeout, or when a fresh connection broke after the request went out: the action
may have run. When the time is up the last error is raised unchanged, so Rasa handles it
as before. Each retried call logs one warning without any request content.
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from personalization.settings import ActionCallSettings

log = logging.getLogger(__name__)

UNWRITTEN_MESSAGES = ("Can not write request body", "Cannot write to closing transport")
RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})

_MARK = "_retries_undelivered_action_calls"


@dataclass
class Attempt:
    """What aiohttp's tracing saw of one request."""

    reused: bool = False
    response_started: bool = False


_action_endpoint: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "action_calls_endpoint", default=None
)
_attempt: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "action_calls_attempt", default=None
)
_settings = ActionCallSettings()
_originals: dict[str, Any] = {}


def undelivered(exc: BaseException, attempt: Attempt) -> bool:
    """True when the request behind `exc` certainly did not reach the action server."""
    if attempt.response_started or not isinstance(exc, aiohttp.ClientConnectionError):
        return False
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return False
    if isinstance(exc, aiohttp.ClientConnectorError):
        return not isinstance(exc, aiohttp.ClientSSLError)
    if isinstance(exc, aiohttp.ClientOSError) and any(
        isinstance(arg, str) and arg.startswith(UNWRITTEN_MESSAGES) for arg in exc.args
    ):
        return True
    if not attempt.reused:
        return False
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return True
    return isinstance(exc, aiohttp.ClientOSError) and exc.errno in RESET_ERRNOS


def _describe(exc: BaseException) -> str:
    """The error's kind, never its text: aiohttp's messages can carry the URL's query."""
    code = getattr(exc, "errno", None)
    return f"{type(exc).__name__} (errno {code})" if code else type(exc).__name__


def _origin(url: Any) -> str:
    try:
        return str(URL(str(url)).origin())
    except ValueError:
        return "the action server"


async def _on_reuse(_session: Any, _ctx: Any, _params: Any) -> None:
    attempt = _attempt.get()
    if attempt is not None:
        attempt.reused = True


async def _on_response(_session: Any, _ctx: Any, _params: Any) -> None:
    attempt = _attempt.get()
    if attempt is not None:
        attempt.response_started = True


def _trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_connection_reuseconn.append(_on_reuse)
    config.on_request_end.append(_on_response)
    config.on_request_redirect.append(_on_response)
    config.freeze()
    return config


_TRACE = _trace_config()


async def _call(
    original: Callable[..., Awaitable[Any]], endpoint: Any, args: tuple, kwargs: dict
) -> Any:
    settings = _settings
    started = time.monotonic()
    deadline = started + settings.retry_s
    delay = settings.initial_delay_s
    retries = 0
    first: BaseException | None = None
    outcome = "failed"
    try:
        while True:
            attempt = Attempt()
            token = _attempt.set(attempt)
            try:
                # Rasa's request() deletes "headers" and "params" from the kwargs it gets.
                result = await original(endpoint, *args, **dict(kwargs))
            except aiohttp.ClientError as exc:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not undelivered(exc, attempt):
                    outcome = f"failed with {_describe(exc)}"
                    raise
                first = first or exc
            except BaseException as exc:
                outcome = f"failed with {_describe(exc)}"
                raise
            else:
                outcome = "succeeded"
                return result
            finally:
                _attempt.reset(token)
            retries += 1
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, settings.max_delay_s)
    finally:
        if retries:
            log.warning(
                "action server call to %s not delivered (%s); retried %d time(s) over "
                "%.1f s and %s",
                _origin(getattr(endpoint, "url", None)),
                _describe(first) if first else "unknown",
                retries,
                time.monotonic() - started,
                outcome,
            )


def install(settings: ActionCallSettings | None = None) -> None:
    """Patch Rasa's action-server call; a second call only replaces the settings."""
    global _settings
    _settings = settings if settings is not None else ActionCallSettings.from_env()

    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    if getattr(EndpointConfig.request, _MARK, False):
        return
    request = EndpointConfig.request
    session = EndpointConfig.session
    run = RemoteAction.run

    @functools.wraps(request)
    async def retrying_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self is not _action_endpoint.get():
            return await request(self, *args, **kwargs)
        # Rasa waits 5 minutes for an action; a turn must end well before its conversation's
        # lock expires (TICKET_LOCK_LIFETIME), or the next message runs beside it.
        kwargs["timeout"] = min(
            float(kwargs.get("timeout") or _settings.timeout_s), _settings.timeout_s
        )
        return await _call(request, self, args, kwargs)

    @functools.wraps(session)
    def traced_session(self: Any) -> aiohttp.ClientSession:
        client = session(self)
        traces = getattr(client, "_trace_configs", None)
        if _attempt.get() is not None and isinstance(traces, list):
            traces.append(_TRACE)
        return client

    @functools.wraps(run)
    async def scoped_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _action_endpoint.set(self.action_endpoint)
        try:
            return await run(self, *args, **kwargs)
        finally:
            _action_endpoint.reset(token)

    for wrapper in (retrying_request, traced_session, scoped_run):
        setattr(wrapper, _MARK, True)
    _originals.update(request=request, session=session, run=run)
    EndpointConfig.request = retrying_request
    EndpointConfig.session = traced_session
    RemoteAction.run = scoped_run


def uninstall() -> None:
    """Put Rasa's own methods back (for tests)."""
    if not _originals:
        return
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    EndpointConfig.request = _originals.pop("request")
    EndpointConfig.session = _originals.pop("session")
    RemoteAction.run = _originals.pop("run")
