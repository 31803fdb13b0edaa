"""The part of a conversation the tracker store keeps: the latest session's recent turns.

Rasa's Redis tracker store keeps every event of a conversation in one value: each turn reads
it all back, rebuilds every event, merges, writes it all again and reads it once more to find
what to stream to the broker. The policies then featurise the whole session. A 300-turn
conversation answered in about 1 s a message, where its first turns took 80 ms.

Nothing needs that much. The policies look back a few turns (memoization's ``max_history``
is 5; rules a turn or two), the actions read slots and the latest message, and the event
broker has already written every event to PostgreSQL, which keeps the whole history. So the
store keeps the latest session, cut to its last ``turns`` customer messages, behind a short
prefix that restores the state at the cut: the session start, the slots that were set and
the listen before the first kept message. The cut is moved back, message by message, until
no form or fallback loop runs across it and no later rewind reaches behind it, so replaying
the kept events over the prefix gives the slots, forms and featurised history Rasa would
have had from the whole session.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    Event,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

DEFAULT_TURNS = 12
# How much further back the cut may move to keep a running form or a fallback's rewinds whole.
# Past that (a form running for the whole stretch) the session is kept whole, as Rasa keeps it.
EXTRA_TURNS = 24
# Customer messages that must stay before the latest one: the policies look back 5 states
# (memoization's max_history), a few messages at most.
HISTORY_MESSAGES = 6


def latest_session(events: Sequence[Event]) -> list[Event]:
    """The events from the latest session start on (all of them when none started)."""
    events = list(events)  # a tracker's events are a deque, which does not slice
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME:
            return events[index:]
    return events


def windowed(
    events: Sequence[Event], domain: Domain, turns: int = DEFAULT_TURNS, sender_id: str = ""
) -> list[Event]:
    """The latest session, cut before its last ``turns`` customer messages (or up to
    ``EXTRA_TURNS`` more, see ``_safe_after``) behind a state prefix."""
    session = latest_session(events)
    messages = [i for i, event in enumerate(session) if isinstance(event, UserUttered)]
    if len(messages) <= turns:
        return session
    last = len(messages) - turns  # the latest message the cut may be at
    candidates = set(messages[max(1, last - EXTRA_TURNS) : last + 1])
    state = DialogueStateTracker(sender_id, domain.slots)
    at_cut: dict[int, tuple[str | None, dict[str, Any]]] = {}
    for index, event in enumerate(session):  # one replay, noting the state at each candidate
        if index in candidates:
            set_slots = {
                name: slot.value
                for name, slot in state.slots.items()
                if slot.value != slot.initial_value
            }
            at_cut[index] = (state.active_loop_name, set_slots)
        state.update(event)
    for cut in sorted(at_cut, reverse=True):
        active_loop, slots = at_cut[cut]
        if active_loop is None and _rewinds_stay_inside(session[cut:]):
            return state_prefix(slots, session[cut - 1].timestamp) + session[cut:]
    return session  # a loop running for the whole stretch: kept whole, as Rasa would


def _rewinds_stay_inside(kept: Sequence[Event]) -> bool:
    """Whether every "undo the customer's message" among the kept events (the two-stage
    fallback's rewinds) finds its message among them and leaves enough history after it
    for the policies to read as they would have read the whole session."""
    messages_kept = 0
    for event in kept:
        if isinstance(event, UserUttered):
            messages_kept += 1
        elif isinstance(event, UserUtteranceReverted):
            messages_kept -= 1
            if messages_kept < HISTORY_MESSAGES:
                return False
    return True


def state_prefix(slots: dict[str, Any], at: float | None) -> list[Event]:
    """Events that leave a new tracker with these slots set, listening."""
    return [
        ActionExecuted(ACTION_SESSION_START_NAME, timestamp=at),
        SessionStarted(timestamp=at),
        *(SlotSet(name, value, timestamp=at) for name, value in slots.items()),
        ActionExecuted(ACTION_LISTEN_NAME, timestamp=at),
    ]
