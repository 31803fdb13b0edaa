"""The part of a conversation the tracker store keeps: the latest session's recent turns.

Rasa's Redis tracker store keeps every event of a conversation in one value: each turn reads
it all back, rebuilds every event, merges, writes it all again and reads it once more to find
what to stream to the broker. The policies then featurise the whole session. A 300-turn
conversation answered in about 1 s a message, where its first turns took 80 ms.

Nothing needs that much. The policies look back a few turns (memoization's ``max_history``
is 5; rules a turn or two), the actions read slots and the latest message, and the event
broker has already written every event to PostgreSQL, which keeps the whole history. So the
store keeps the latest session, cut to its last ``turns`` customer messages, behind a short
prefix that restores the state at the cut: the session start, the slots that were set, the
active form, and the listen before the first kept message. Replaying the kept events over
that prefix gives the slots and form Rasa would have had from the whole conversation.
"""

from __future__ import annotations

from collections.abc import Sequence

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

DEFAULT_TURNS = 12


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
    """The latest session, cut to its last ``turns`` customer messages behind a state prefix."""
    session = latest_session(events)
    messages = [i for i, event in enumerate(session) if isinstance(event, UserUttered)]
    if len(messages) <= turns:
        return session
    cut = messages[-turns]
    return state_prefix(session[:cut], domain, sender_id) + session[cut:]


def state_prefix(before: Sequence[Event], domain: Domain, sender_id: str = "") -> list[Event]:
    """Events that leave a tracker where ``before`` left it: slots, active form, listening."""
    state = DialogueStateTracker.from_events(sender_id, list(before), slots=domain.slots)
    at = before[-1].timestamp if before else None
    prefix: list[Event] = [
        ActionExecuted(ACTION_SESSION_START_NAME, timestamp=at),
        SessionStarted(timestamp=at),
    ]
    for slot in state.slots.values():
        if slot.value != slot.initial_value:
            prefix.append(SlotSet(slot.name, slot.value, timestamp=at))
    if state.active_loop_name:
        prefix.append(ActiveLoop(state.active_loop_name, timestamp=at))
    prefix.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=at))
    return prefix
