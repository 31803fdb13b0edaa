"""Data rights in the chat: what we know, stop personalizing, opt back in, delete my data.

Every change is audited by `personalization.privacy`. Erasure also removes this conversation:
Rasa saves the tracker and streams its events after the action returns, so the conversation
is swept once more a few seconds later (`schedule_conversation_sweep`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, AllSlotsReset, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import personalization_client
from actions.conversation import PROOF_SLOT, known_customer, refuse_unless_private
from actions.orders import IDENTIFY_BUTTON
from actions.session import PROFILE_SLOTS
from personalization.privacy import (
    erase_customer,
    export_customer,
    forget_conversation,
    readable_export,
    set_personalization,
)
from personalization.recommender.registry import ModelRegistry
from personalization.settings import IdentitySettings

log = logging.getLogger(__name__)

CONFIRM_BUTTONS = [
    {"title": "Yes, delete everything", "payload": "/affirm"},
    {"title": "No, keep my data", "payload": "/deny"},
]


def ask_to_identify(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(response="utter_identify_first", buttons=IDENTIFY_BUTTON)
    return []


class CustomerDataAction(Action, ABC):
    """A data-rights request: it needs to know whose data, so a visitor identifies first."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
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
        export = await personalization_client.call(
            "export",
            lambda: export_customer(personalization_client.database(), customer_id, "chat"),
            None,
        )
        if export is None:
            return unavailable(dispatcher)
        dispatcher.utter_message(response="utter_export", summary=readable_export(export))
        return []


class ActionOptOut(CustomerDataAction):
    def name(self) -> str:
        return "action_opt_out"

    async def for_customer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str
    ) -> list[EventType]:
        def work() -> bool:
            set_personalization(personalization_client.database(), customer_id, False, "chat")
            cache = personalization_client.recommendation_cache()
            if cache is not None:
                cache.forget_customer(customer_id)
            return True

        if not await personalization_client.call("opt-out", work, False):
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
        ok = await personalization_client.call(
            "opt-in",
            lambda: (
                set_personalization(personalization_client.database(), customer_id, True, "chat")
                or True
            ),
            False,
        )
        if not ok:
            return unavailable(dispatcher)
        context = await personalization_client.fetch_context(customer_id)
        events: list[EventType] = []
        if context is not None:
            events = [SlotSet(k, v) for k, v in context.as_slots().items()]
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


def sweep_delay_s() -> float:
    try:
        return float(os.environ.get("ERASURE_SWEEP_DELAY_S", "5"))
    except ValueError:
        return 5.0


def schedule_conversation_sweep(conversation_ids: set[str]) -> None:
    """Delete what Rasa writes after the erasing action: the saved tracker and its events."""

    def sweep() -> None:
        time.sleep(sweep_delay_s())
        try:
            forget_conversation(
                personalization_client.database(),
                conversation_ids,
                personalization_client.conversation_store(),
            )
        except Exception as exc:  # a failed sweep is logged; the audit shows the erasure
            log.error("conversation sweep after erasure failed (%s)", type(exc).__name__)

    threading.Thread(target=sweep, name="erasure-sweep", daemon=True).start()


async def erase_after_confirmation(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    customer_id = known_customer(tracker)
    if customer_id is None:
        return ask_to_identify(dispatcher)
    if refuse_unless_private(dispatcher, tracker):
        return [SlotSet("pending_question", None)]
    report = await personalization_client.call(
        "erasure",
        lambda: erase_customer(
            personalization_client.database(),
            customer_id,
            conversations=personalization_client.conversation_store(),
            source="chat",
            recommendations=personalization_client.recommendation_cache(),
            registry=ModelRegistry.from_env(),
            sign_in_key=IdentitySettings.from_env().binding_key,
        ),
        None,
    )
    if report is None:
        return [*unavailable(dispatcher), SlotSet("pending_question", None)]
    schedule_conversation_sweep({tracker.sender_id, customer_id})
    dispatcher.utter_message(response="utter_erased")
    return [ActiveLoop(None), AllSlotsReset(), SlotSet("customer_known", False)]


def cancel_erase(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(response="utter_erase_cancelled")
    return [SlotSet("pending_question", None)]
