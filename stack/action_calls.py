"""Rasa's calls to the action server: kept-alive connections, and a retry for a call that
certainly never reached it.

**Connections.** Rasa 3.6 opens a new aiohttp session, so a new TCP connection, for every call
(`EndpointConfig.session`): under 50 concurrent conversations the connecting alone was about a
twentieth of a Rasa server's CPU, and the action server set up as many. Inside
`RemoteAction.run` each call still gets a session of its own (the endpoint's headers and auth,
no cookie jar), but its connections come from one pool per event loop, kept alive
`POOL_KEEPALIVE_S` seconds, less than the action server's 5 s (Sanic's keep-alive timeout),
so the server rarely closes one the pool is about to reuse (aiohttp drops those it has seen
closed). A call on a connection that breaks after the request went out is not sent again,
pooled or not: the server may have run the action. The sessions encode a call's body with
`stack/action_payload.py`.

**Retries.** Rasa 3.6 runs a custom action with one POST (`RemoteAction.run` →
`EndpointConfig.request`). While the supervised action server restarts (back in about
2-5 s), that POST fails with aiohttp's `ClientConnectorError` or `ClientOSError`, Rasa logs
an error and the customer gets an empty answer (an `action_session_start` can be lost).

`install()` patches `request`, `session` and `RemoteAction.run` so that, inside
`RemoteAction.run` and for its action endpoint only, a call is sent again with a short
back-off (0.25 s doubling, at most 1 s apart) for up to `ACTION_CALL_RETRY_S` seconds
(personalization/settings.py) when the request certainly was not delivered:

- the connection could not be made (refused, unreachable, name not resolved), TLS
  failures aside: they do not heal by waiting;
- aiohttp could not write the request (`Can not write request body`, `Cannot write to
  closing transport`).

An action is not idempotent, so a call is never sent again once a response has started,
after a timeout, or when a connection broke after the request went out, even one reused
from the pool that the server may have closed while idle: aiohttp cannot tell that from a
server that received the call and died running it. When the time is up the last error is
raised unchanged, so Rasa handles it as before. Each retried call logs one warning without
any request content.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from personalization.settings import ActionCallSettings
from stack import action_payload

log = logging.getLogger(__name__)

UNWRITTEN_MESSAGES = ("Can not write request body", "Cannot write to closing transport")

_MARK = "_retries_undelivered_action_calls"

POOL_KEEPALIVE_S = 2.0
POOL_LIMIT = 100


@dataclass
class Attempt:
    """What aiohttp's tracing saw of one request."""

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
    return isinstance(exc, aiohttp.ClientOSError) and any(
        isinstance(arg, str) and arg.startswith(UNWRITTEN_MESSAGES) for arg in exc.args
    )


def _describe(exc: BaseException) -> str:
    """The error's kind, never its text: aiohttp's messages can carry the URL's query."""
    code = getattr(exc, "errno", None)
    return f"{type(exc).__name__} (errno {code})" if code else type(exc).__name__


def _origin(url: Any) -> str:
    try:
        return str(URL(str(url)).origin())
    except ValueError:
        return "the action server"


async def _on_response(_session: Any, _ctx: Any, _params: Any) -> None:
    attempt = _attempt.get()
    if attempt is not None:
        attempt.response_started = True


def _trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_request_end.append(_on_response)
    config.on_request_redirect.append(_on_response)
    config.freeze()
    return config


_TRACE = _trace_config()

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.TCPConnector] = (
    weakref.WeakKeyDictionary()
)


def _pool() -> aiohttp.TCPConnector:
    """The running loop's connections to the action server (a connector is bound to a loop)."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None or pool.closed:
        pool = aiohttp.TCPConnector(keepalive_timeout=POOL_KEEPALIVE_S, limit=POOL_LIMIT)
        _pools[loop] = pool
    return pool


async def close_pool() -> None:
    """Close the running loop's pooled connections (at server stop)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()


def pooled_session(endpoint: Any) -> aiohttp.ClientSession:
    """A session for one action call, as Rasa's `EndpointConfig.session` makes it, on the
    shared pool, traced for the retry and encoding the body with the domain sent once."""
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    basic = getattr(endpoint, "basic_auth", None) or {}
    auth = aiohttp.BasicAuth(basic["username"], basic["password"]) if basic else None

    return aiohttp.ClientSession(
        headers=endpoint.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        connector=_pool(),
        connector_owner=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        json_serialize=action_payload.dumps,
        trace_configs=[_TRACE],
    )


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
        if _attempt.get() is None or self is not _action_endpoint.get():
            return session(self)
        return pooled_session(self)

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
    action_payload.install()


def uninstall() -> None:
    """Put Rasa's own methods back (for tests)."""
    if not _originals:
        return
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    EndpointConfig.request = _originals.pop("request")
    EndpointConfig.session = _originals.pop("session")
    RemoteAction.run = _originals.pop("run")
    action_payload.uninstall()
