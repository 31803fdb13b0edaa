"""A few messages at a time through Rasa's pipeline, the rest waiting their turn in order.

Rasa handles every message it receives at once, interleaved on one event loop. Under load
that is processor sharing: each message takes as long as all the work in flight, a costly
one longer still, and the latency spread grows with the load. Admitting only
``RASA_MESSAGE_CONCURRENCY`` messages into the pipeline at a time, in arrival order, keeps a
message's wait close to the work queued ahead of it: the same mean, a much shorter tail.

- The gate sits inside the conversation lock (around ``MessageProcessor.handle_message``), so
  a message waiting behind an earlier one of its own conversation never holds a place that
  another conversation could use.
- A message that has held its place for 100 ms gives it up and carries on without it, so one
  slow message never holds the queue up for longer than that.
- A message gives its place up while it waits for the action server, and gets it back ahead
  of new arrivals once the answer is in. A slow or dead action server (its calls retried up
  to the action deadline) then delays only the messages that need it, and the CPU serves
  others meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import deque
from contextvars import ContextVar
from typing import Any

_MARK = "_admission_gated"
OVERSTAY_S = 0.1  # a message keeps its place at most this long at a stretch
_concurrency = 0
# One gate per event loop: its waiters are futures of that loop.
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Gate] = weakref.WeakKeyDictionary()
# The current message's place in its gate (None outside a gated message).
_place: ContextVar[Place | None] = ContextVar("admission_place", default=None)


class Gate:
    """``size`` places, handed out first come, first served; messages coming back from the
    action server go ahead of new arrivals."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._new: deque[asyncio.Future[None]] = deque()
        self._returning: deque[asyncio.Future[None]] = deque()

    async def enter(self, returning: bool = False) -> None:
        if self.free > 0 and not self._new and not self._returning:
            self.free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        (self._returning if returning else self._new).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # the place was handed over just as the request was cancelled
            else:
                (self._returning if returning else self._new).remove(waiter)
            raise

    def leave(self) -> None:
        for queue in (self._returning, self._new):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the place passes straight to the next
                    return
        self.free += 1


class Place:
    """A message's claim on a gate, and whether it holds a place right now.

    A message that keeps its place longer than ``OVERSTAY_S`` gives it up and goes on
    without one: an odd message that takes long (a cold cache, a rare path) then holds up
    the queue behind it for at most that long, as it would without the gate.
    """

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.held = False
        self._overstay: asyncio.TimerHandle | None = None

    async def take(self, returning: bool = False) -> None:
        await self.gate.enter(returning)
        self.held = True
        self._overstay = asyncio.get_running_loop().call_later(OVERSTAY_S, self.give_up)

    def give_up(self) -> None:
        if self._overstay is not None:
            self._overstay.cancel()
            self._overstay = None
        if self.held:
            self.held = False
            self.gate.leave()


def _gate() -> Gate | None:
    if _concurrency <= 0:
        return None
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = Gate(_concurrency)
    return gate


def install(concurrency: int) -> None:
    """Gate Rasa's message handling; 0 leaves it ungated (and unpatched, if it was never
    gated). A later call changes the size for gates made after it, or turns the gate off."""
    global _concurrency
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor

    _concurrency = concurrency
    _gates.clear()
    if concurrency <= 0 or getattr(MessageProcessor.handle_message, _MARK, False):
        return  # off: Rasa's own methods stay in place, nothing added per message
    handle_message = MessageProcessor.handle_message
    run_remote = RemoteAction.run

    @functools.wraps(handle_message)
    async def gated(self: MessageProcessor, message: Any) -> Any:
        gate = _gate()
        if gate is None:
            return await handle_message(self, message)
        place = Place(gate)
        await place.take()
        token = _place.set(place)
        try:
            return await handle_message(self, message)
        finally:
            _place.reset(token)
            place.give_up()

    @functools.wraps(run_remote)
    async def run_outside_the_gate(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        place = _place.get()
        if place is None or not place.held:
            return await run_remote(self, *args, **kwargs)
        place.give_up()
        try:
            return await run_remote(self, *args, **kwargs)
        finally:
            await place.take(returning=True)  # a cancelled wait holds nothing

    setattr(gated, _MARK, True)
    MessageProcessor.handle_message = gated  # type: ignore[method-assign]
    RemoteAction.run = run_outside_the_gate  # type: ignore[method-assign]
