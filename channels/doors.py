"""What every channel checks at its door, and how it answers when the bot cannot.

- **Sender ids** are 1 to 128 letters, digits or ``_ . @ : -``: no spaces, no control
  characters, nothing a log line, a Redis key or the 255-character ``events.sender_id``
  column could trip on, once the channel's prefix is added.
- **Messages** longer than MAX_MESSAGE_CHARS (2,000) never reach Rasa, which parses them on
  its event loop: the customer gets a polite answer instead, and the refusal is counted in
  ``shopbot_messages_refused_total{channel,reason}``.
- **Blank messages** (only spaces, of any script) are answered at the door: Rasa's pipeline
  fails on them.
- **Failures inside Rasa** (Redis down: a ``LockError`` or ``ConnectionError`` from the lock
  or tracker store; anything else) become one clear reply, "We're having trouble right now",
  instead of an empty answer; the log names the conversation's channel and the error's type,
  never the customer's text. So does a custom action that failed (the action server down):
  Rasa logs that and carries on, and the customer would otherwise get nothing for it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import LockError
from redis.exceptions import RedisError
from sanic.exceptions import PayloadTooLarge, SanicException
from sanic.request import Request

from personalization.metrics import MESSAGE_SECONDS, MESSAGES_FAILED, MESSAGES_REFUSED
from personalization.settings import InputLimits

log = logging.getLogger(__name__)

MAX_SENDER_CHARS = 128
SENDER = re.compile(rf"[A-Za-z0-9_.@:-]{{1,{MAX_SENDER_CHARS}}}")
SENDER_RULE = (
    f"`sender` must be 1 to {MAX_SENDER_CHARS} letters, digits or the characters _ . @ : -"
)
TROUBLE_REPLY = "We're having trouble right now — please try again in a minute."
BLANK_REPLY = "I didn't catch that — could you type your question?"

# The custom actions that failed in the turn being handled (None outside a guarded turn).
_failed_actions: ContextVar[list[str] | None] = ContextVar("failed_actions", default=None)

Handler = Callable[[UserMessage], Awaitable[Any]]


class BodyTooLarge(SanicException):
    status_code = 413
    quiet = True


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read up to ``limit`` bytes: a larger one is refused while it
    arrives (its declared length first), so it is never held in memory whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body must be at most {limit} bytes")
    stream = request.stream
    if stream is not None and getattr(stream, "request_body", None) and not request.body:
        stream.request_max_size = limit
        try:
            await request.receive_body()
        except PayloadTooLarge as exc:
            raise BodyTooLarge(f"the body must be at most {limit} bytes") from exc
    if len(request.body or b"") > limit:
        raise BodyTooLarge(f"the body must be at most {limit} bytes")
    return request.body or b""


def too_long_reply(limit: int) -> str:
    return f"That message is too long for me — please keep it under {limit:,} characters."


def valid_sender(sender: object) -> bool:
    """Whether ``sender`` is a sender id a channel may build a conversation id from."""
    return isinstance(sender, str) and SENDER.fullmatch(sender) is not None


def refused(channel: str, reason: str) -> None:
    """Count a message refused at the door (labels are fixed words, never customer data)."""
    MESSAGES_REFUSED.labels(channel=channel, reason=reason).inc()


def guarded(on_new_message: Handler, channel: str, limits: InputLimits | None = None) -> Handler:
    """``on_new_message`` (Rasa's agent) behind the door's two promises: a message over the
    limit is answered politely without reaching Rasa, and a failure inside Rasa is answered
    with the trouble reply, never with silence."""
    limits = limits or InputLimits.from_env()
    watch_custom_actions()

    async def handle(message: UserMessage) -> None:
        started = time.perf_counter()
        try:
            await answer(message)
        finally:
            MESSAGE_SECONDS.labels(channel=channel).observe(time.perf_counter() - started)

    async def answer(message: UserMessage) -> None:
        text = message.text or ""
        if len(text) > limits.max_message_chars:
            refused(channel, "too_long")
            await _reply(message, too_long_reply(limits.max_message_chars), channel)
            return
        if not text.strip():
            refused(channel, "blank")
            await _reply(message, BLANK_REPLY, channel)
            return
        failed: list[str] = []
        turn = _failed_actions.set(failed)
        try:
            await on_new_message(message)
            if failed:
                MESSAGES_FAILED.labels(channel=channel, error="action").inc()
                log.error(
                    "%s: custom action failed (%s); answered with the trouble reply",
                    channel,
                    ", ".join(failed),
                )
                await _reply(message, TROUBLE_REPLY, channel)
        except Exception as exc:  # any failure inside Rasa gets the same answer
            MESSAGES_FAILED.labels(channel=channel, error=_kind(exc)).inc()
            log.error(
                "%s: the message could not be handled (%s: %s); answered with the trouble reply",
                channel,
                type(exc).__name__,
                _describe(exc),
            )
            await _reply(message, TROUBLE_REPLY, channel)
        finally:
            _failed_actions.reset(turn)

    return handle


def watch_custom_actions() -> None:
    """Note each failed call of a custom action in the turn's list (once per process).

    Rasa catches the failure itself, logs it and goes on with no events: without this, the
    customer whose action server is down would get an empty answer.
    """
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction

    if getattr(RemoteAction.run, "_watched", False):
        return
    original = RemoteAction.run

    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise  # a form declining a slot: Rasa's normal flow
        except Exception as exc:
            failed = _failed_actions.get()
            if failed is not None:
                failed.append(f"{self.name()}: {type(exc).__name__}")
            raise

    run._watched = True  # type: ignore[attr-defined]
    RemoteAction.run = run  # type: ignore[method-assign]


def _kind(exc: BaseException) -> str:
    if isinstance(exc, LockError):
        return "lock_store"
    if isinstance(exc, RedisError | ConnectionError | TimeoutError):
        return "store"
    return "other"


def _describe(exc: BaseException) -> str:
    """The words of errors known to carry none of the customer's text (a lock or store
    error names a conversation id and an address at most); for any other error, only its
    type, since its message could quote what the customer wrote."""
    known = exc if _kind(exc) != "other" else None
    cause = exc.__cause__ or exc.__context__
    if known is None and cause is not None and _kind(cause) != "other":
        known = cause
    if known is None:
        return "details withheld: the message of an unknown error may quote the customer"
    words = str(known).replace("\n", " ")
    return words if len(words) <= 300 else words[:300] + "…"


async def _reply(message: UserMessage, text: str, channel: str) -> None:
    try:
        await message.output_channel.send_text_message(message.sender_id, text)
    except Exception as exc:  # the customer's connection may be gone
        log.warning("%s: could not send a reply (%s)", channel, type(exc).__name__)
