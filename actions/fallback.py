"""The first stage of the two-stage fallback, in the customer's words.

Rasa's default asks "Did you mean 'bot_challenge'?"; customers should never see intent names.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.payloads import intent_payload
from personalization.metrics import FALLBACKS

NLU_FALLBACK = "nlu_fallback"

# How the bot names each intent when it asks for confirmation. Every intent in domain.yml
# needs an entry; tests/actions/test_fallback.py checks this.
INTENT_DESCRIPTIONS: dict[str, str] = {
    "greet": "say hello",
    "goodbye": "say goodbye",
    "thank": "say thanks",
    "bot_challenge": "ask whether you're talking to a bot",
    "out_of_scope": "ask about something other than the shop",
    "how_are_you": "ask how I am",
    "affirm": "say yes",
    "deny": "say no",
    "stop": "stop what we were doing",
    "dont_know": "say you don't know",
    "inform": "give me some details",
    "identify": "sign in to your account",
    "order_status": "check on an order",
    "request_return": "return something",
    "billing_problem": "sort out a payment or billing problem",
    "ask_recommendation": "get some product ideas",
    "refine_recommendation": "change the product ideas I showed",
    "choose_product": "hear more about a product",
    "ask_help": "find a help article",
    "request_human": "talk to a person",
    "complain": "make a complaint",
    "rate": "rate this chat",
    "ask_my_data": "see what we know about you",
    "opt_out": "stop personalization",
    "opt_in": "turn personalization back on",
    "delete_my_data": "delete your data",
}


# Rasa's two-stage fallback reads `out_of_scope` as the "No" button, so offering it as the
# "Yes" would be taken as a refusal; the best other intent is offered instead.
_NOT_CONFIRMABLE = {NLU_FALLBACK, "out_of_scope"}


def intent_to_confirm(latest_message: dict[str, Any]) -> str | None:
    """The best intent that can be confirmed: below the threshold, the best of the ranking."""
    ranking = [
        entry.get("name")
        for entry in latest_message.get("intent_ranking") or []
        if entry.get("name") and entry.get("name") not in _NOT_CONFIRMABLE
    ]
    if ranking:
        return ranking[0]
    name = (latest_message.get("intent") or {}).get("name")
    return name if name and name not in _NOT_CONFIRMABLE else None


def confirmation_payload(intent: str, latest_message: dict[str, Any]) -> str:
    """The "Yes" payload, carrying the entities already found so that nothing is asked twice.

    "what about the one from last week" may fall short of the threshold, yet its date is
    still what the customer meant once they confirm they wanted to check on an order.
    """
    entities: dict[str, str] = {}
    for entity in latest_message.get("entities") or []:
        name, value = entity.get("entity"), entity.get("value")
        if isinstance(name, str) and isinstance(value, (str, int, float)):
            entities.setdefault(name, str(value))
    return intent_payload(intent, **entities)


class ActionAskAffirmation(Action):
    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        FALLBACKS.labels(stage="first").inc()
        intent = intent_to_confirm(tracker.latest_message)
        if intent is None:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        description = INTENT_DESCRIPTIONS.get(intent, intent.replace("_", " "))
        dispatcher.utter_message(
            response="utter_ask_affirmation",
            intent_description=description,
            buttons=[
                {
                    "title": "Yes",
                    "payload": confirmation_payload(intent, tracker.latest_message),
                },
                {"title": "No", "payload": "/out_of_scope"},
            ],
        )
        return []


class ActionCoreFallback(Action):
    """No rule or story knows what to do next: ask what else, and forget the turn."""

    def name(self) -> str:
        return "action_core_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        FALLBACKS.labels(stage="next_step").inc()
        dispatcher.utter_message(response="utter_anything_else")
        return [UserUtteranceReverted()]
