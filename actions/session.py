"""Session start: recognise the customer and greet them by name."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import personalization_client

log = logging.getLogger(__name__)

PROFILE_SLOTS = ("customer_id", "customer_name", "customer_known")
_NOT_CARRIED_OVER = set(PROFILE_SLOTS) | {"session_started_metadata", "requested_slot"}


def customer_id_of(tracker: Tracker) -> str:
    """The customer this conversation is with.

    A channel that knows the signed-in customer (the web page, Slack) passes `customer_id` in
    the session metadata; otherwise the sender id is the pseudonymous customer id.
    """
    metadata = tracker.get_slot("session_started_metadata") or {}
    candidate = metadata.get("customer_id") if isinstance(metadata, dict) else None
    if personalization_client.is_valid_customer_id(candidate):
        return candidate
    return tracker.sender_id


def _carried_over_slots(tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
    if not domain.get("session_config", {}).get("carry_over_slots_to_new_session", True):
        return []
    return [
        SlotSet(name, value)
        for name, value in tracker.slots.items()
        if value is not None and name not in _NOT_CARRIED_OVER
    ]


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted(), *_carried_over_slots(tracker, domain)]
        customer_id = customer_id_of(tracker)
        customer = await personalization_client.fetch_customer(customer_id)
        if customer is None:
            dispatcher.utter_message(response="utter_welcome")
            events += [
                SlotSet("customer_id", None),
                SlotSet("customer_name", None),
                SlotSet("customer_known", False),
            ]
        else:
            log.info("session started for known customer %s", customer.id)
            if customer.first_name:
                dispatcher.utter_message(
                    response="utter_welcome_back", customer_name=customer.first_name
                )
            else:  # known from an order export, but never told us their name
                dispatcher.utter_message(response="utter_welcome")
            events += [
                SlotSet("customer_id", customer.id),
                SlotSet("customer_name", customer.first_name),
                SlotSet("customer_known", True),
            ]
        events.append(ActionExecuted("action_listen"))
        return events
