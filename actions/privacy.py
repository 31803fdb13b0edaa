"""Data rights in the chat: what we know, stop personalizing, opt back in, delete my data.

Every change is audited by `personalization.privacy`. Deleting is a durable job
(`personalization.jobs.erasure`): after the customer confirms, the request is recorded and the
worker carries it out, this conversation included (swept again after Rasa saved it). The
answer says only what is true: deleted, to be deleted within the promised minutes, recorded
for when our systems are back, or not recorded at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, AllSlotsReset, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import (
    PROOF_SLOT,
    ask_to_identify,
    known_customer,
    refuse_unless_private,
)
from actions.form_interruptions import leave_form
from actions.gateways.privacy import privacy_store
from actions.gateways.profiles import profile_store
from actions.session import PROFILE_SLOTS
from personalization.jobs.erasure import QUEUED
from personalization.privacy import readable_summary

CONFIRM_BUTTONS = [
    {"title": "Yes, delete everything", "payload": "/affirm"},
    {"title": "No, keep my data", "payload": "/deny"},
]


class CustomerDataAction(Action, ABC):
    """A data-rights request: it needs to know whose data, so a visitor identifies first."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # A data-rights request ends any form under way: the customer has changed course.
        return [*leave_form(tracker, domain), *await self._answer(dispatcher, tracker)]

    async def _answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        customer_id = known_customer(tracker)
        if customer_id is None:
            return ask_to_identify(dispatcher)
        if refuse_unless_private(dispatcher, tracker):
            return []
        return await self.for_customer(dispatcher, tracker, customer_id)

    @abstractmethod
    async def for_customer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[EventType]: ...


def unavailable(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(response="utter_privacy_unavailable")
    return []


class ActionExportData(CustomerDataAction):
    def name(self) -> str:
        return "action_export_data"

    async def for_customer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[EventType]:
        summary = await privacy_store().summary(customer_id)
        if not summary.ok or summary.value is None:
            return unavailable(dispatcher)
        dispatcher.utter_message(response="utter_export", summary=readable_summary(summary.value))
        return []


class ActionOptOut(CustomerDataAction):
    def name(self) -> str:
        return "action_opt_out"

    async def for_customer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[EventType]:
        if not (await privacy_store().set_personalization(customer_id, False)).ok:
            return unavailable(dispatcher)
        dispatcher.utter_message(response="utter_opted_out")
        keep = {"customer_id", "customer_known", PROOF_SLOT}  # opted out, still signed in
        return [SlotSet(name, None) for name in PROFILE_SLOTS if name not in keep] + [
            SlotSet("personalization_allowed", False),
            SlotSet("mood", None),
            SlotSet("mood_trend", None),
            SlotSet("mood_label", None),
        ]


class ActionOptIn(CustomerDataAction):
    def name(self) -> str:
        return "action_opt_in"

    async def for_customer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[EventType]:
        if not (await privacy_store().set_personalization(customer_id, True)).ok:
            return unavailable(dispatcher)
        context = await profile_store().context(customer_id)
        events: list[EventType] = []
        if context.ok and context.value is not None:
            events = [SlotSet(k, v) for k, v in context.value.as_slots().items()]
        dispatcher.utter_message(response="utter_opted_in")
        return events


class ActionAskEraseConfirmation(CustomerDataAction):
    def name(self) -> str:
        return "action_ask_erase_confirmation"

    async def for_customer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_confirm_erase", buttons=CONFIRM_BUTTONS)
        return [SlotSet("pending_question", "erase")]


async def erase_after_confirmation(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    customer_id = known_customer(tracker)
    if customer_id is None:
        return ask_to_identify(dispatcher)
    if refuse_unless_private(dispatcher, tracker):
        return [SlotSet("pending_question", None)]
    outcome = await privacy_store().request_erasure(customer_id, {tracker.sender_id})
    receipt = outcome.value
    if not outcome.ok or receipt is None:
        dispatcher.utter_message(response="utter_erasure_not_recorded")
        return [SlotSet("pending_question", None)]
    if receipt.done:
        dispatcher.utter_message(response="utter_erased", reference=receipt.reference)
    elif receipt.state == QUEUED:
        dispatcher.utter_message(response="utter_erasure_queued", reference=receipt.reference)
    else:
        dispatcher.utter_message(
            response="utter_erasure_pending",
            reference=receipt.reference,
            minutes=receipt.promise_minutes,
        )
    # Recorded either way: the conversation no longer speaks for (or records about) them.
    return [ActiveLoop(None), AllSlotsReset(), SlotSet("customer_known", False)]


def cancel_erase(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(response="utter_erase_cancelled")
    return [SlotSet("pending_question", None)]
