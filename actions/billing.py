"""Billing and payment problems: the right help, with compassion and a person when it hurts.

A negative mood gets the compassionate response (not a variant: Rasa picks at random among
matching conditional variants, and the style variants match too) and an offer of a human; a VIP
is handed over at once.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import mood, mood_may_be_used
from actions.feedback import ask_if_helpful
from actions.form_interruptions import leave_form
from actions.handoff import escalate_if_needed
from personalization.support.escalation import NEGATIVE_MOOD


class ActionBillingHelp(Action):
    def name(self) -> str:
        return "action_billing_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        value, _ = mood(tracker)
        upset = value < NEGATIVE_MOOD and mood_may_be_used(tracker)
        dispatcher.utter_message(
            response="utter_billing_compassionate" if upset else "utter_billing_help"
        )
        left = leave_form(tracker, domain)
        done, events = await escalate_if_needed(dispatcher, tracker, problem="billing_distress")
        if done == "none":
            return [*left, *await ask_if_helpful(dispatcher, tracker)]
        return [*left, *events]
