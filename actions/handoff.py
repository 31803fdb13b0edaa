"""Hand-offs to a person: on request, after two failed understandings, and when the rules in
`personalization.support.escalation` say so. Every hand-off is a ticket in PostgreSQL with a
summary and the customer's context, and the customer is told what happens next."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import known_customer, mood, personal_customer, summary, ticket_context
from actions.form_interruptions import leave_form
from actions.gateways.support import support_store
from personalization.metrics import FALLBACKS, HANDOFFS
from personalization.support import escalation
from personalization.support.tickets import Ticket, priority_for, promised_wait

# A reason is a word the code chose (late_order, customer_request); anything else is "other".
_REASON = re.compile(r"[a-z_]{1,32}")


async def open_ticket(tracker: Tracker, reason: str) -> Ticket | None:
    customer_id = known_customer(tracker)
    tier = tracker.get_slot("customer_tier")
    value, _ = mood(tracker)
    priority = priority_for(reason, tier, value, tracker.get_slot("customer_at_risk") is True)
    context = {**ticket_context(tracker), "reason": reason}
    text = summary(tracker)
    outcome = await support_store().open_ticket(
        customer_id, tracker.sender_id, reason, priority, text, context
    )
    return outcome.value


async def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: str
) -> list[EventType]:
    """Open the ticket and say what happens next; if the store is down, say how to reach us."""
    ticket = await open_ticket(tracker, reason)
    HANDOFFS.labels(reason=reason if _REASON.fullmatch(reason) else "other").inc()
    if ticket is None:
        dispatcher.utter_message(response="utter_handoff_unavailable")
    else:
        dispatcher.utter_message(
            response="utter_handoff_done",
            ticket_id=str(ticket.id),
            wait=promised_wait(ticket.priority),
        )
    return [SlotSet("pending_question", None), SlotSet("escalation_reason", None)]


OFFER_BUTTONS = [
    {"title": "Yes, please", "payload": "/affirm"},
    {"title": "No, thanks", "payload": "/deny"},
]


def offer_human(
    dispatcher: CollectingDispatcher, reason: str, response: str = "utter_offer_human"
) -> list[EventType]:
    """Ask whether the customer wants a person; their yes or no is answered by yes_no.py."""
    dispatcher.utter_message(response=response, buttons=OFFER_BUTTONS)
    return [SlotSet("pending_question", "handoff"), SlotSet("escalation_reason", reason)]


async def escalate_if_needed(
    dispatcher: CollectingDispatcher, tracker: Tracker, problem: str
) -> tuple[str, list[EventType]]:
    """Apply the escalation rules to a problem (its ticket reason, e.g. "late_order");
    returns what was done and the events."""
    value, trend = mood(tracker)
    tier = tracker.get_slot("customer_tier") if personal_customer(tracker) else None
    decision = escalation.decide(
        problem=True, tier=tier, mood=value, trend=trend, offer_reason=problem
    )
    if decision.action == "handoff":
        return "handoff", await hand_off(dispatcher, tracker, decision.reason or "complaint")
    if decision.action == "offer":
        return "offer", offer_human(dispatcher, decision.reason or "complaint")
    return "none", []


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        left = leave_form(tracker, domain)
        return [*left, *await hand_off(dispatcher, tracker, "customer_request")]


def decline_handoff(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(response="utter_handoff_declined")
    return [SlotSet("pending_question", None), SlotSet("escalation_reason", None)]


async def accept_handoff(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    reason = tracker.get_slot("escalation_reason")
    return await hand_off(dispatcher, tracker, reason or "customer_request")


class ActionHandleComplaint(Action):
    """A complaint: handed over at once for a VIP or a worsening mood, else a person is offered."""

    def name(self) -> str:
        return "action_handle_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_complaint_sorry")
        done, events = await escalate_if_needed(dispatcher, tracker, problem="complaint")
        if done == "none":
            events = offer_human(dispatcher, "complaint")
        return events


class ActionDefaultFallback(Action):
    """The two-stage fallback gave up: not understood twice in a row, so a person takes over."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        FALLBACKS.labels(stage="repeated").inc()
        dispatcher.utter_message(response="utter_default")
        events = await hand_off(dispatcher, tracker, "repeated_fallback")
        return [*events, UserUtteranceReverted()]
