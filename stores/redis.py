"""Rasa's Redis tracker and lock stores, made safe for a Redis that is dead or hung.

Rasa 3.6 builds their Redis clients without a connect timeout (and the tracker store without
any socket timeout), and calls them synchronously on the event loop: a Redis that stops
answering stalls every conversation of the server, for as long as the kernel keeps the
connection. These subclasses

- build their clients with REDIS_SOCKET_TIMEOUT_S and REDIS_CONNECT_TIMEOUT_S (1 s by
  default, ``personalization.settings.RedisSettings``), and retry once, at once, a command
  that found its pooled connection closed (the first call after Redis restarted);
- run every Redis call in a worker thread, so the event loop keeps serving other
  conversations while one waits for Redis;
- accept the parameters endpoints.yml fills in from the environment as text (port, db,
  record_exp; an empty password is no password).

A failure raises (``redis.ConnectionError``, ``redis.TimeoutError``, Rasa's ``LockError``),
and the channels answer it with the trouble reply (``channels.doors``). Rasa's agent wraps
every tracker store in a ``FailSafeTrackerStore``, which would swallow the error: a failed
read became a brand-new, empty conversation and a failed write went to process memory, lost
at the next restart, while the customer was answered as if nothing happened. For this store
the wrapper lets the error through instead (``refuse_silent_fallback``).

The tracker store keeps only the latest session's recent turns behind a state prefix
(``stores.tracker_window``): every turn used to read, rebuild, merge and rewrite the whole
conversation, and the policies featurised all of it. The event broker writes every event to
PostgreSQL, which keeps the whole history. A save streams only the events the store had not
seen, counted from what it read, instead of reading the conversation back to find them.

The tracker store also withholds, in what it saves and streams to the event broker, the text
of bot replies that echo the customer's personal data (``SENSITIVE_RESPONSES``, the data
export): those events keep only their response name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import redis
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore, TicketLock
from rasa.core.tracker_store import FailSafeTrackerStore, RedisTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event
from rasa.shared.core.trackers import (
    DialogueStateTracker,
    get_trackers_for_conversation_sessions,
)
from rasa.utils.endpoints import EndpointConfig
from redis.backoff import NoBackoff
from redis.retry import Retry

from personalization.settings import RedisSettings, TrackerWindowSettings
from stores.tracker_window import windowed

log = logging.getLogger(__name__)

DEFAULT_PORT = 6379
# Set on a tracker this store read or saved: how many of its events are already stored and
# streamed, so a save streams only the rest.
_STORED_COUNT = "_shop_events_stored"
LOCK_POLL_S = 0.1  # a waiting message looks again this often (Rasa: every 1 s)


def _text(value: Any) -> str | None:
    """A parameter as endpoints.yml gives it: unset variables arrive as empty text."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any, default: int) -> int:
    text = _text(value)
    return int(text) if text is not None else default


def _seconds(value: Any) -> int | None:
    """An expiry in whole seconds (``604800`` or ``604800.0``); none when unset or 0."""
    text = _text(value)
    return (int(float(text)) or None) if text is not None else None


def redis_client(
    settings: RedisSettings,
    *,
    host: str | None,
    port: Any,
    db: Any,
    username: Any = None,
    password: Any = None,
    use_ssl: bool = False,
    ssl_keyfile: Any = None,
    ssl_certfile: Any = None,
    ssl_ca_certs: Any = None,
    decode_responses: bool = False,
    default_db: int = 0,
) -> redis.Redis:
    """A Redis client that gives up after the configured timeouts instead of hanging."""
    return redis.Redis(
        host=_text(host) or "localhost",
        port=_int(port, DEFAULT_PORT),
        db=_int(db, default_db),
        username=_text(username),
        password=_text(password),
        ssl=str(use_ssl).lower() in ("1", "true", "yes"),
        ssl_keyfile=_text(ssl_keyfile),
        ssl_certfile=_text(ssl_certfile),
        ssl_ca_certs=_text(ssl_ca_certs),
        decode_responses=decode_responses,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.connect_timeout_s,
        # A pooled connection Redis closed (it restarted) fails once with ConnectionError;
        # one immediate retry on a fresh connection hides that. A timeout is not retried.
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[redis.ConnectionError],
    )


def _ssl_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        name: kwargs.get(name)
        for name in ("use_ssl", "ssl_keyfile", "ssl_certfile", "ssl_ca_certs")
        if name in kwargs
    }


# --- the tracker store --------------------------------------------------------------------


def _sensitive_responses() -> tuple[frozenset[str], str]:
    from personalization.redaction import SENSITIVE_RESPONSES, WITHHELD

    return SENSITIVE_RESPONSES, WITHHELD


def _response_name(event: Event) -> str | None:
    name = (event.metadata or {}).get("utter_action") if isinstance(event, BotUttered) else None
    return name if isinstance(name, str) else None


def withhold_sensitive_replies(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """The tracker to store: bot replies that echo personal data keep only their response
    name. The tracker Rasa holds is not changed (its replies were already sent)."""
    sensitive, withheld = _sensitive_responses()
    if not any(_response_name(event) in sensitive for event in tracker.events):
        return tracker
    events: list[Event] = []
    for event in tracker.events:
        name = _response_name(event)
        if name in sensitive:
            event = BotUttered(
                text=withheld, data={}, metadata={"utter_action": name}, timestamp=event.timestamp
            )
        events.append(event)
    stored = tracker.init_copy()
    stored.update_with_events(events, domain=None, override_timestamp=False)
    return stored


def _starts_a_later_session(tracker: DialogueStateTracker) -> bool:
    """Whether a session starts after the first event: where Rasa's split would cut."""
    return any(
        isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME
        for index, event in enumerate(tracker.events)
        if index > 0
    )


_stock_on_save_error = FailSafeTrackerStore.on_tracker_store_error
_stock_on_retrieve_error = FailSafeTrackerStore.on_tracker_store_retrieve_error


def _on_save_error(self: FailSafeTrackerStore, error: Exception) -> None:
    if isinstance(self._tracker_store, TimeoutRedisTrackerStore):
        raise error
    _stock_on_save_error(self, error)


def _on_retrieve_error(self: FailSafeTrackerStore, error: Exception) -> None:
    if isinstance(self._tracker_store, TimeoutRedisTrackerStore):
        raise error
    _stock_on_retrieve_error(self, error)


def refuse_silent_fallback() -> None:
    """Make Rasa's ``FailSafeTrackerStore`` raise the errors of our tracker store instead of
    answering from an empty conversation kept in memory. Other tracker stores keep Rasa's
    behaviour. Calling it again does nothing."""
    FailSafeTrackerStore.on_tracker_store_error = _on_save_error  # type: ignore[method-assign]
    FailSafeTrackerStore.on_tracker_store_retrieve_error = _on_retrieve_error  # type: ignore[method-assign]


class TimeoutRedisTrackerStore(RedisTrackerStore):
    """Rasa's Redis tracker store with timeouts, off the event loop, withholding replies
    that echo personal data."""

    def __init__(
        self,
        domain: Domain,
        host: str | None = "localhost",
        port: Any = DEFAULT_PORT,
        db: Any = 0,
        username: Any = None,
        password: Any = None,
        event_broker: Any = None,
        record_exp: Any = None,
        key_prefix: Any = None,
        **kwargs: Any,
    ) -> None:
        ssl = _ssl_options(kwargs)
        for name in ssl:
            kwargs.pop(name)
        super().__init__(
            domain=domain,
            host=_text(host) or "localhost",
            port=_int(port, DEFAULT_PORT),
            db=_int(db, 0),
            event_broker=event_broker,
            record_exp=_seconds(record_exp),
            key_prefix=_text(key_prefix),
            **kwargs,
        )
        refuse_silent_fallback()
        self.red.close()  # Rasa's own client, without timeouts: never used
        self.red = redis_client(
            RedisSettings.from_env(),
            host=host,
            port=port,
            db=db,
            username=username,
            password=password,
            decode_responses=True,
            **ssl,
        )
        self.window_turns = TrackerWindowSettings.from_env().turns

    async def save(self, tracker: DialogueStateTracker, timeout: float | None = None) -> None:
        """Stream the turn's new events to the broker, then store the window of the
        conversation (``stores.tracker_window``), in a worker thread.

        A tracker this store read knows how many of its events were stored: the rest are
        new, so nothing is read back to find them (Rasa reads the whole conversation again).
        A tracker built elsewhere (Rasa's HTTP API) is streamed as Rasa does.
        """
        stored_count = getattr(tracker, _STORED_COUNT, None)
        kept = withhold_sensitive_replies(tracker)
        if stored_count is None:
            await self.stream_events(kept)
        elif self.event_broker is not None:
            new = list(kept.events)[stored_count:]
            await self._stream_new_events(self.event_broker, new, tracker.sender_id)
        expiry = timeout or self.record_exp
        await asyncio.to_thread(self._store, kept, int(expiry) if expiry else None)
        setattr(tracker, _STORED_COUNT, len(tracker.events))

    async def _stream_new_events(
        self, event_broker: EventBroker, new_events: list[Event], sender_id: str
    ) -> None:
        """Rasa's stream, handed to a broker that can take a turn's events at once in one
        call (one write of its spool, not one per event)."""
        publish_many = getattr(event_broker, "publish_many", None)
        if publish_many is None:
            await super()._stream_new_events(event_broker, new_events, sender_id)
            return
        publish_many([{"sender_id": sender_id, **event.as_dict()} for event in new_events])

    def _store(self, tracker: DialogueStateTracker, expiry: int | None) -> None:
        events = windowed(tracker.events, self.domain, self.window_turns, tracker.sender_id)
        serialised = json.dumps(
            {"events": [event.as_dict() for event in events], "name": tracker.sender_id}
        )
        self.red.set(self.key_prefix + tracker.sender_id, serialised, ex=expiry)

    async def _retrieve(
        self, sender_id: str, fetch_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Rasa's retrieval, in a worker thread: reading a long conversation back into events
        takes a while, and the event loop serves everyone else meanwhile."""
        return await asyncio.to_thread(self._load, sender_id, fetch_all_sessions)

    def _load(self, sender_id: str, fetch_all_sessions: bool) -> DialogueStateTracker | None:
        stored = self.red.get(self.key_prefix + sender_id)
        if stored is None:
            return None
        tracker = self.deserialise_tracker(sender_id, stored)
        if tracker is None:
            return None
        if not fetch_all_sessions and _starts_a_later_session(tracker):
            # Rasa's split replays every event again: only when there is something to split
            # (a conversation stored before the window kept only its latest session).
            tracker = get_trackers_for_conversation_sessions(tracker)[-1]
        setattr(tracker, _STORED_COUNT, len(tracker.events))
        return tracker

    async def keys(self) -> list[str]:
        return await asyncio.to_thread(self.red.keys, self.key_prefix + "*")


# --- the lock store -----------------------------------------------------------------------


class TimeoutRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store with timeouts, its Redis calls made from a worker thread.

    Rasa creates a custom lock store as ``cls(endpoint_config=...)``; tests and scripts may
    give the parameters directly.
    """

    def __init__(self, endpoint_config: EndpointConfig | None = None, **given: Any) -> None:
        params: dict[str, Any] = {}
        if endpoint_config is not None:
            params.update(endpoint_config.kwargs)
            params.setdefault("host", endpoint_config.url)
        params.update(given)
        params.pop("type", None)
        settings = RedisSettings.from_env()
        ssl = _ssl_options(params)
        super().__init__(
            host=_text(params.get("host")) or "localhost",
            port=_int(params.get("port"), DEFAULT_PORT),
            db=_int(params.get("db"), 1),
            key_prefix=_text(params.get("key_prefix")),
            socket_timeout=settings.socket_timeout_s,
        )
        self.red.close()
        self.red = redis_client(
            settings,
            host=params.get("host"),
            port=params.get("port"),
            db=params.get("db"),
            username=params.get("username"),
            password=params.get("password"),
            default_db=1,
            **ssl,
        )
        self._issue_script = self.red.register_script(_ISSUE_TICKET)
        self._remove_script = self.red.register_script(_REMOVE_TICKET)
        self._giving_back: set[asyncio.Future[None]] = set()

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = LOCK_POLL_S,
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ticket lock, each change one Redis transaction made from a worker thread."""
        issuing = asyncio.ensure_future(
            asyncio.to_thread(self.issue_ticket, conversation_id, lock_lifetime)
        )
        try:
            # Sanic cancels a request whose client went away; the ticket being issued in the
            # thread must then still be given back, or it would hold the conversation until
            # it expired.
            ticket = await asyncio.shield(issuing)
        except asyncio.CancelledError:
            issuing.add_done_callback(lambda done: self._give_back(conversation_id, done))
            raise
        try:
            yield await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        finally:
            try:
                await asyncio.to_thread(self.cleanup, conversation_id, ticket)
            except redis.RedisError as exc:  # the lock expires on its own
                log.warning("lock store: could not release a ticket (%s)", type(exc).__name__)

    def _give_back(self, conversation_id: str, issued: asyncio.Future[int]) -> None:
        if issued.cancelled() or issued.exception() is not None:
            return
        giving_back = asyncio.ensure_future(
            asyncio.to_thread(self.cleanup, conversation_id, issued.result())
        )
        self._giving_back.add(giving_back)  # kept until done: the loop holds tasks weakly
        giving_back.add_done_callback(self._giving_back.discard)

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        while True:
            try:
                lock = await asyncio.to_thread(self._current_lock, conversation_id)
            except redis.RedisError as exc:
                raise LockError(f"Error while acquiring lock: {exc}") from exc
            if lock is None or not any(held.number == ticket for held in lock.tickets):
                break  # our ticket expired: waiting longer would wait forever
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait_time_in_seconds)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")

    # Rasa reads a lock, changes it and writes it back in separate commands. Two servers, or
    # two worker threads of one, then overwrite each other's change: a ticket issued while
    # another was released was lost (its message waited until the stale ticket expired) or
    # its lock deleted under it (a LockError). Each change below is one Lua script, which
    # Redis runs atomically: one round trip, where a WATCH/MULTI/EXEC transaction took three
    # and was retried whenever another client changed the lock meanwhile. The stored lock
    # keeps Rasa's format (tickets as JSON text inside JSON), and expiry follows this
    # client's clock, as Rasa's own ticket checks do.

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._run(self._issue_script, conversation_id, repr(float(lock_lifetime))))
        except redis.RedisError as exc:
            raise LockError(f"Error while acquiring lock: {exc}") from exc

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self._run(self._remove_script, conversation_id, int(ticket_number))

    def update_lock(self, conversation_id: str) -> None:
        self._run(self._remove_script, conversation_id, -1)  # no such ticket: expiry only

    def _run(self, script: Any, conversation_id: str, argument: str | int) -> Any:
        """One lock script on this conversation's key, at this client's time."""
        return script(
            keys=[self.key_prefix + conversation_id],
            args=[conversation_id, repr(time.time()), argument],
        )

    def _current_lock(self, conversation_id: str) -> TicketLock | None:
        lock = self.get_lock(conversation_id)
        if lock is not None:
            lock.remove_expired_tickets()
        return lock


# The tickets still valid at ARGV[2] (this client's time.time()), then the change, then the
# lock stored again with the expiry of its last ticket, or deleted once it has none.
_LOCK_PRELUDE = """
local now = tonumber(ARGV[2])
local tickets = {}
local stored = redis.call('GET', KEYS[1])
if stored then
  for _, text in ipairs(cjson.decode(stored)['tickets'] or {}) do
    local ticket = cjson.decode(text)
    if not (now > tonumber(ticket['expires'])) then
      table.insert(tickets, ticket)
    end
  end
end
"""
_LOCK_STORE = """
if #tickets == 0 then
  redis.call('DEL', KEYS[1])
else
  local texts, last = {}, 0
  for i, ticket in ipairs(tickets) do
    -- Rasa's format: each ticket is JSON text, kept as a string inside the lock's JSON
    texts[i] = cjson.encode(cjson.encode({number = ticket['number'], expires = ticket['expires']}))
    if ticket['expires'] > last then last = ticket['expires'] end
  end
  local ttl = math.max(1, math.floor((last - now) * 1000))
  local lock = '{"conversation_id": ' .. cjson.encode(ARGV[1]) .. ', "tickets": ['
    .. table.concat(texts, ', ') .. ']}'
  redis.call('SET', KEYS[1], lock, 'PX', ttl)
end
"""
_ISSUE_TICKET = (
    _LOCK_PRELUDE
    + """
local number = 0
if #tickets > 0 then number = tonumber(tickets[#tickets]['number']) + 1 end
table.insert(tickets, {number = number, expires = now + tonumber(ARGV[3])})
"""
    + _LOCK_STORE
    + "return number\n"
)
_REMOVE_TICKET = (
    _LOCK_PRELUDE
    + """
local kept = {}
for _, ticket in ipairs(tickets) do
  if tonumber(ticket['number']) ~= tonumber(ARGV[3]) then table.insert(kept, ticket) end
end
tickets = kept
"""
    + _LOCK_STORE
    + "return #tickets\n"
)
