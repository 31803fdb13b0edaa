"""Keeps customers' words out of the Rasa and action servers' logs.

Rasa 3.6 logs the customer's text at several sites: structlog events carry it in keys such as
``text`` or ``parse_data_text`` (``rest.message.received.failure`` with the failing message,
``processor.message.parse``), its JSON tracebacks include every frame's local variables, and
``server.py`` logs ``traceback.format_exc()`` whose last line is the exception's message,
which can be built from the customer's text. rasa-sdk logs ignored events whole. Sanic logs
request URLs, query string included.

:func:`install` makes every log record pass through :func:`scrub_message` (known sites
stripped, then :func:`personalization.redaction.redact` masks emails, phone numbers, card
numbers and addresses) and renders exceptions as frames with the message withheld unless
the exception type is known to carry none of the request (connection errors, timeouts).
:func:`install_rasa_structlog` does the same inside Rasa's structlog pipeline.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Callable, MutableMapping
from functools import cache
from types import TracebackType
from typing import Any

WITHHELD = "[withheld]"

# The event-dict keys in which Rasa's structlog events carry conversation content (Rasa's own
# list of keys to anonymise, rasa/utils/log_utils.py, plus the tracker dumps).
WITHHELD_KEYS = frozenset(
    {
        "text",
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "message",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "successes",
        "current_entity",
        "next_entity",
        "states",
        "entity",
        "token_text",
        "user_message",
        "json_message",
        "events",
        "tracker",
        "request_body",
    }
)

# Plain log messages of Rasa, rasa-sdk and Sanic that quote a message, event or request:
# (pattern, replacement). The text after the fixed prefix is dropped.
_KNOWN_SITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(Received user message) .*", re.S), rf"\1 {WITHHELD}"),
    (re.compile(r"(An exception occured while handling user message) .*", re.S), rf"\1 {WITHHELD}"),
    (re.compile(r"(Exception when trying to handle message\.).*", re.S), rf"\1 {WITHHELD}"),
    (re.compile(r"(Contents of ignored event:) .*", re.S), rf"\1 {WITHHELD}"),
    (re.compile(r"(Exception occurred during execution of request) .*", re.S), rf"\1 {WITHHELD}"),
    (re.compile(r"(Could not parse message|Failed to parse text)\b.*", re.S), rf"\1 {WITHHELD}"),
    # A URL's query string can hold a token or a message (Sanic logs request URLs).
    (re.compile(r"\?[^\s'\"]+"), f"?{WITHHELD}"),
]

_TRACEBACK_HEAD = "Traceback (most recent call last):"
_CHAIN_LINES = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
_EXCEPTION_LINE = re.compile(
    r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Timeout)\w*)"
)


@cache
def _redactor() -> Callable[[str], str]:
    """``personalization.redaction.redact`` when present; otherwise no masking."""
    try:
        from personalization.redaction import redact
    except ImportError:
        return lambda text: text
    return redact


def _redact(text: str) -> str:
    try:
        return _redactor()(text)
    except Exception:  # a failing masker must not lose the log line, nor leak its text
        return WITHHELD


def _scrub_traceback_text(text: str) -> str:
    """A traceback printed into a message (Rasa logs ``traceback.format_exc()``): keep the
    frames, withhold each exception's message (its first line and any continuation)."""
    out: list[str] = []
    in_traceback = in_message = False
    for line in text.split("\n"):
        if line.startswith(_TRACEBACK_HEAD) or line.strip() in _CHAIN_LINES:
            in_traceback, in_message = True, False
            out.append(line)
        elif in_message:
            continue
        elif not in_traceback or line.startswith("  ") or not line.strip():
            out.append(line)  # text before the traceback, frames, source lines
        else:  # the first line after the frames: the exception and its message
            match = _EXCEPTION_LINE.match(line)
            name = match.group(1) if match else "exception"
            out.append(f"{name}: {WITHHELD}" if ":" in line else name)
            in_message = True
    return "\n".join(out)


def scrub_message(text: str) -> str:
    """A log message with known customer-text sites stripped and personal data masked."""
    for pattern, replacement in _KNOWN_SITES:
        text = pattern.sub(replacement, text)
    if _TRACEBACK_HEAD in text:
        text = _scrub_traceback_text(text)
    return _redact(text)


def _safe_exception_types() -> tuple[type[BaseException], ...]:
    """Exceptions whose message describes a connection or a timeout, never a request."""
    safe: list[type[BaseException]] = [OSError, TimeoutError, ImportError, MemoryError]
    try:
        import redis

        safe += [redis.ConnectionError, redis.TimeoutError, redis.AuthenticationError]
    except ImportError:
        pass
    try:
        import psycopg2

        safe += [psycopg2.OperationalError, psycopg2.InterfaceError]
    except ImportError:
        pass
    return tuple(safe)


def exception_message(exc: BaseException) -> str:
    """The message of ``exc`` fit for a log: masked when its type is known to carry no
    request content, withheld (with its length, to tell errors apart) otherwise."""
    try:
        message = str(exc)
    except Exception:
        return WITHHELD
    if isinstance(exc, _safe_exception_types()):
        return _redact(message)
    return f"{WITHHELD} ({len(message)} characters)" if message else ""


def _scrub_traceback_exception(te: traceback.TracebackException, exc: BaseException | None) -> None:
    seen: set[int] = set()
    while te is not None and exc is not None and id(te) not in seen:
        seen.add(id(te))
        te._str = exception_message(exc)  # the one hook the stdlib offers
        if te.__cause__ is not None:
            _scrub_traceback_exception(te.__cause__, exc.__cause__)
        te, exc = te.__context__, exc.__context__


def format_exception(
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None],
) -> str:
    """A traceback like the stdlib's, with every exception message in the chain withheld."""
    exc_type, exc, tb = exc_info
    te = traceback.TracebackException(exc_type, exc, tb, capture_locals=False)
    _scrub_traceback_exception(te, exc)
    return "".join(te.format()).rstrip("\n")


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Replace the record's message and exception text with their scrubbed forms."""
    try:
        message = record.getMessage()
    except Exception:
        message = str(record.msg)
    record.msg = scrub_message(message)
    record.args = ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = format_exception(record.exc_info)  # type: ignore[arg-type]
    elif record.exc_text:
        record.exc_text = _scrub_traceback_text(record.exc_text)
    return record


class ScrubAccessLog(logging.Filter):
    """Sanic's access log puts the request line in ``record.request`` (an ``extra``, set after
    the record factory ran): drop its query string and mask it."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if isinstance(request, str):
            path, query = request.split("?", 1) if "?" in request else (request, "")
            record.request = scrub_message(path) + (f"?{WITHHELD}" if query else "")
        return True


_installed_factory: Callable[..., logging.LogRecord] | None = None


def install() -> None:
    """Scrub every log record this process creates, whichever logger or handler it meets."""
    global _installed_factory
    current = logging.getLogRecordFactory()
    if current is _installed_factory:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(current(*args, **kwargs))

    _installed_factory = factory
    logging.setLogRecordFactory(factory)
    access = logging.getLogger("sanic.access")
    if not any(isinstance(f, ScrubAccessLog) for f in access.filters):
        access.addFilter(ScrubAccessLog())


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return _redact(value)
    if isinstance(value, dict):
        return {k: WITHHELD if k in WITHHELD_KEYS else _scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_value(v) for v in value]
    return value


def scrub_event_dict(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: withhold conversation content, mask the rest."""
    for key in list(event_dict):
        if key in WITHHELD_KEYS:
            event_dict[key] = WITHHELD
        elif key not in ("exc_info", "stack_info"):
            event_dict[key] = _scrub_value(event_dict[key])
    return event_dict


def render_exception(_logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: the exception as scrubbed text, before a renderer that would
    print local variables (Rasa's JSON tracebacks include every frame's locals)."""
    exc_info = event_dict.pop("exc_info", None)
    if method == "exception" and exc_info is None:
        exc_info = True
    if exc_info:
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        elif not isinstance(exc_info, tuple):
            exc_info = sys.exc_info()
        if exc_info[1] is not None:
            event_dict["exception"] = format_exception(exc_info)
    return event_dict


def scrubbing_processors(processors: list[Any]) -> list[Any]:
    """Rasa's processor chain with the scrubbers in: content first, exceptions just before
    anything that renders them."""
    import structlog

    renderers = (structlog.processors.ExceptionRenderer,)
    chain = [scrub_event_dict, *processors]
    position = next((i for i, p in enumerate(chain) if isinstance(p, renderers)), len(chain) - 1)
    chain.insert(position, render_exception)
    return chain


def install_rasa_structlog() -> None:
    """Wrap Rasa's structlog set-up (run by ``rasa run``) so it adds the scrubbers."""
    import rasa.__main__
    import structlog

    original = rasa.__main__.configure_structlog
    if getattr(original, "scrubbed", False):
        return

    def configure_structlog(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        processors = list(structlog.get_config()["processors"])
        structlog.configure(processors=scrubbing_processors(processors))

    configure_structlog.scrubbed = True  # type: ignore[attr-defined]
    rasa.__main__.configure_structlog = configure_structlog
