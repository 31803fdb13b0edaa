"""An unknown visitor identifies with an email or customer number, proven by an order number.

The same answer follows an unknown email and a wrong order number. Attempts are counted per
identifier and per client across conversations, in the store (``SignInGuard``), so a new
conversation id buys no new tries. A success is recorded on the conversation as a proof bound
to this channel and client. A store that cannot answer is never a failed attempt: the visitor
is asked to try again in a minute, and nothing is counted against them.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import (
    known_customer,
    latest_entity,
    message_identity,
    typed_answer,
)
from actions.gateways.identity import identity_store
from actions.gateways.profiles import profile_store
from actions.orders import order_number_or_complain
from actions.session import profile_slots, proof_ttl_s, record_proof, welcome_response
from personalization.auth.proof import IdentityProof
from personalization.auth.sign_in import Outcome
from personalization.support.identity import normalise_identifier


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
        if known_customer(tracker):
            return []  # already known: the action says so
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
        if known_customer(tracker):
            dispatcher.utter_message(response="utter_already_identified")
            return clear
        identity, order = tracker.get_slot("identity"), tracker.get_slot("verification_order")
        message = message_identity(tracker)
        if not identity or message is None:
            dispatcher.utter_message(response="utter_identify_failed")
            return clear
        attempt = await identity_store().sign_in(
            identity, order, message.address, tracker.sender_id, message.channel
        )
        result = attempt.value
        if result is None:  # unavailable: nothing was checked, nothing counted
            dispatcher.utter_message(response="utter_identify_unavailable")
            return clear
        if result.outcome is Outcome.LOCKED:
            dispatcher.utter_message(response="utter_identify_locked")
            return clear
        if result.customer_id is None:
            dispatcher.utter_message(response="utter_identify_failed")
            return clear
        found = await profile_store().context(result.customer_id)
        context = found.value
        if context is None:
            # A right answer whose profile cannot be read now is an outage, not a failure.
            dispatcher.utter_message(
                response="utter_identify_unavailable"
                if found.is_unavailable
                else "utter_identify_failed"
            )
            return clear
        proof = IdentityProof.signed_in(context.customer_id, message, proof_ttl_s())
        await record_proof(tracker, proof)
        context, slots = await profile_slots(tracker, context, proof)
        events = [*clear, *(SlotSet(k, v) for k, v in slots.items())]
        if context.personalization_allowed and context.first_name:
            dispatcher.utter_message(
                response=welcome_response(context.tier, context.tone),
                customer_name=context.first_name,
            )
        else:
            dispatcher.utter_message(response="utter_identified")
        return events
