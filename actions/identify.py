"""An unknown visitor identifies with an email or customer number, proven by an order number.

The same answer follows an unknown email and a wrong order number, and a session allows three
attempts, so the chat cannot be used to test who is a customer.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import personalization_client
from actions.conversation import latest_entity, typed_answer
from actions.orders import order_number_or_complain
from actions.session import choose_style, welcome_response
from personalization.support.identity import MAX_ATTEMPTS, normalise_identifier, verified_customer


def attempts(tracker: Tracker) -> int:
    value = tracker.get_slot("identify_attempts")
    return int(value) if isinstance(value, (int, float)) else 0


class ValidateIdentifyForm(FormValidationAction):
    def name(self) -> str:
        return "validate_identify_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        if tracker.get_slot("customer_known") or attempts(tracker) >= MAX_ATTEMPTS:
            return []  # already known, or locked out for this session: the action says which
        return domain_slots

    async def extract_identity(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        typed = latest_entity(tracker, "email") or latest_entity(tracker, "customer_number")
        if typed:
            return {"identity": typed}
        if tracker.get_slot("requested_slot") == "identity":
            return {"identity": typed_answer(tracker)}
        return {}

    async def extract_verification_order(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "verification_order":
            return {}
        typed = latest_entity(tracker, "order_number") or typed_answer(tracker)
        return {"verification_order": typed}

    async def validate_identity(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        identifier = normalise_identifier(str(value or ""))
        if identifier is None:
            dispatcher.utter_message(response="utter_identity_invalid")
        return {"identity": identifier}

    async def validate_verification_order(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"verification_order": order_number_or_complain(value, dispatcher)}


class ActionIdentifyCustomer(Action):
    def name(self) -> str:
        return "action_identify_customer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        clear: list[EventType] = [SlotSet("identity", None), SlotSet("verification_order", None)]
        if tracker.get_slot("customer_known"):
            dispatcher.utter_message(response="utter_already_identified")
            return clear
        tries = attempts(tracker)
        if tries >= MAX_ATTEMPTS:
            dispatcher.utter_message(response="utter_identify_locked")
            return clear
        identity, order = tracker.get_slot("identity"), tracker.get_slot("verification_order")
        customer_id = None
        if identity and order:
            customer_id = await personalization_client.call(
                "identification",
                lambda: verified_customer(personalization_client.database(), identity, order),
                None,
            )
        context = await personalization_client.fetch_context(customer_id) if customer_id else None
        if context is None:
            left = MAX_ATTEMPTS - tries - 1
            dispatcher.utter_message(
                response="utter_identify_failed" if left else "utter_identify_locked"
            )
            return [*clear, SlotSet("identify_attempts", float(tries + 1))]
        events = [*clear, *(SlotSet(k, v) for k, v in context.as_slots().items())]
        if context.personalization_allowed and context.first_name:
            dispatcher.utter_message(
                response=welcome_response(context.tier, context.tone),
                customer_name=context.first_name,
            )
            events.append(
                SlotSet("response_style", await choose_style(context.segment, context.tone))
            )
        else:
            dispatcher.utter_message(response="utter_identified")
        return events
