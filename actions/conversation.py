"""Reading the tracker the same way in every journey: who, how personal, what mood, what said."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.payloads import intent_payload
from personalization.auth.proof import IdentityProof, MessageIdentity
from personalization.experiments.treatment import Treatment
from personalization.support import tickets

PROOF_SLOT = "identity_proof"


def message_identity(tracker: Tracker) -> MessageIdentity | None:
    """What the channel vouched for about the latest message's sender."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return MessageIdentity.from_metadata(event.get("metadata"))
    return None


def identity_proof(tracker: Tracker) -> IdentityProof | None:
    return IdentityProof.from_slot(tracker.get_slot(PROOF_SLOT))


def known_customer(tracker: Tracker) -> str | None:
    """The proven customer of this conversation, or None.

    The one place actions learn who they serve: the proof recorded on the conversation (a
    token, Slack's verified email, the in-chat sign-in), and only while it holds for the
    latest message (same channel and client, not expired). No slot a message could fill, and
    no sender id, is ever taken for an identity.
    """
    proof = identity_proof(tracker)
    if proof is None or not proof.holds_for(message_identity(tracker)):
        return None
    return proof.customer_id


def personalization_allowed(tracker: Tracker) -> bool:
    """The one consent rule: personal only when the stored consent said yes; unknown is no."""
    return tracker.get_slot("personalization_allowed") is True


def private_customer(tracker: Tracker) -> str | None:
    """The proven customer, but only where replies reach them alone: personal data (orders,
    returns, the export) never goes to a shared channel."""
    return known_customer(tracker) if private_channel(tracker) else None


def mood_may_be_used(tracker: Tracker) -> bool:
    """The mood of this conversation shapes answers unless a known customer has not allowed
    personalization; an anonymous visitor has no stored data for it to touch."""
    return known_customer(tracker) is None or personalization_allowed(tracker)


def personal_customer(tracker: Tracker) -> str | None:
    """The customer id if they allow personalization: only then is anything new recorded."""
    customer_id = known_customer(tracker)
    if customer_id is None or not personalization_allowed(tracker):
        return None
    return customer_id


def private_channel(tracker: Tracker) -> bool:
    """Whether replies reach only this person (not a shared Slack channel)."""
    identity = message_identity(tracker)
    return identity is not None and identity.private


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


IDENTIFY_BUTTON = [{"title": "Sign in with my email", "payload": intent_payload("identify")}]


def ask_to_identify(dispatcher: CollectingDispatcher) -> list[EventType]:
    """The one way every personal request asks a visitor to sign in first."""
    dispatcher.utter_message(response="utter_identify_first", buttons=IDENTIFY_BUTTON)
    return []


def refuse_unless_private(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """True, after offering to go on in a direct message, when a known customer asks for
    personal data where others can read the reply."""
    if known_customer(tracker) is not None and not private_channel(tracker):
        dispatcher.utter_message(response="utter_continue_in_direct_message")
        return True
    return False


TREATMENT_SLOT = "experiment_treatment"


def treatment(tracker: Tracker) -> Treatment:
    """What the running experiments' arms change in this conversation (set at its start)."""
    return Treatment.from_slot(tracker.get_slot(TREATMENT_SLOT))
