"""Billing and payment problems: the right help, with compassion and a person when it hurts.

`utter_billing_help` has a variant for a negative mood (the `mood_label` slot); a negative mood
also brings an offer of a human, and a VIP is handed over at once.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.feedback import ask_if_helpful
from actions.handoff import escalate_if_needed


class ActionBillingHelp(Action):
    def name(self) -> str:
        return "action_billing_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_billing_help")
        done, events = await escalate_if_needed(dispatcher, tracker, problem=True)
        if done == "none":
            return ask_if_helpful(dispatcher)
        return events
