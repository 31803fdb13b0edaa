"""Reading the tracker the same way in every journey: who, how personal, what mood, what said."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from personalization.support import tickets


def known_customer(tracker: Tracker) -> str | None:
    """The customer id, only once session start (or identification) found them in the store."""
    if tracker.get_slot("customer_known") is not True:
        return None
    customer_id = tracker.get_slot("customer_id")
    return customer_id if isinstance(customer_id, str) and customer_id else None


def personal_customer(tracker: Tracker) -> str | None:
    """The customer id if they allow personalization: only then is anything new recorded."""
    customer_id = known_customer(tracker)
    if customer_id is None or tracker.get_slot("personalization_allowed") is False:
        return None
    return customer_id


def mood(tracker: Tracker) -> tuple[float, str]:
    value = tracker.get_slot("mood")
    trend = tracker.get_slot("mood_trend") or "steady"
    return (float(value) if isinstance(value, (int, float)) else 0.0), trend


def latest_entity(tracker: Tracker, entity: str) -> str | None:
    values = list(tracker.get_latest_entity_values(entity))
    return str(values[0]) if values else None


def transcript(tracker: Tracker) -> list[tuple[str, str]]:
    """The current session's turns as (speaker, text), for a ticket's summary."""
    turns: list[tuple[str, str]] = []
    for event in tracker.events:
        kind = event.get("event")
        if kind == "session_started":
            turns = []
        elif kind == "user" and event.get("text"):
            turns.append(("customer", event["text"]))
        elif kind == "bot" and event.get("text"):
            turns.append(("bot", event["text"]))
    return turns


def ticket_context(tracker: Tracker) -> dict[str, Any]:
    """What an agent needs at a glance; nothing about a customer who opted out."""
    value, trend = mood(tracker)
    context: dict[str, Any] = {"channel": tracker.get_latest_input_channel()}
    if personal_customer(tracker) is not None:
        context.update(
            segment=tracker.get_slot("customer_segment"),
            tier=tracker.get_slot("customer_tier"),
            mood=round(value, 2),
            mood_trend=trend,
            open_orders=[o.get("id") for o in tracker.get_slot("open_orders") or []],
        )
    return context


def summary(tracker: Tracker) -> str:
    return tickets.summarise(transcript(tracker))


# Intents a free-text answer to a form's question can be classified as. Anything else ("delete
# my data", "talk to a person") is a digression: the form rejects it and the rules answer it.
_ANSWER_INTENTS = {"inform", "identify", "nlu_fallback", "choose_product", "ask_recommendation"}


def typed_answer(tracker: Tracker) -> str | None:
    """The latest text as an answer to a form's question, unless it was clearly something else."""
    message = tracker.latest_message
    if (message.get("intent") or {}).get("name") not in _ANSWER_INTENTS:
        return None
    text = message.get("text")
    return text if text and not text.startswith("/") else None
