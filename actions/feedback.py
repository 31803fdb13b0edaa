"""Feedback after a resolution: thumbs, then an optional CSAT of 1–5.

Both are stored with the response style the customer was answered in, and teach the style
bandit for their segment. A customer who opted out is still heard, but anonymously.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import latest_entity, personal_customer, treatment
from actions.gateways.experiments import experiment_store
from actions.gateways.feedback import feedback_store
from actions.payloads import intent_payload
from personalization.support.bandit import STYLES
from personalization.support.feedback import FeedbackError

THUMBS = [
    {"title": "👍 Yes", "payload": "/affirm"},
    {"title": "👎 No", "payload": "/deny"},
]
CSAT = [{"title": str(n), "payload": intent_payload("rate", csat=str(n))} for n in range(1, 6)]
_BARE_NUMBER = re.compile(r"\s*\d+\s*")


async def ask_if_helpful(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The bot has resolved the request: ask how it went, and count the resolution for any
    experiment this conversation is in (its time to resolution ends here)."""
    if treatment(tracker).arms:
        await experiment_store().mark_resolved(tracker.sender_id)
    dispatcher.utter_message(response="utter_ask_helpful", buttons=THUMBS)
    return [SlotSet("pending_question", "feedback")]


async def store_feedback(tracker: Tracker, kind: str, value: int) -> bool:
    """Record the feedback and reward the style; False if the store could not take it."""
    customer_id = personal_customer(tracker)
    style = tracker.get_slot("response_style")
    style = style if style in STYLES else None
    segment = tracker.get_slot("customer_segment") if customer_id else None
    # A style an experiment's arm fixed teaches the bandit nothing: its counts would then
    # depend on the other arm's traffic.
    learn = treatment(tracker).fixed_style is None
    outcome = await feedback_store().record(
        customer_id, tracker.sender_id, kind, value, style, segment, learn
    )
    return outcome.ok


async def record_thumbs(
    dispatcher: CollectingDispatcher, tracker: Tracker, helpful: bool
) -> list[EventType]:
    await store_feedback(tracker, "thumbs", 1 if helpful else -1)
    dispatcher.utter_message(response="utter_thumbs_up" if helpful else "utter_thumbs_down")
    dispatcher.utter_message(response="utter_ask_csat", buttons=CSAT)
    return [SlotSet("pending_question", "csat")]


class ActionRecordCsat(Action):
    def name(self) -> str:
        return "action_record_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        if tracker.get_slot("pending_question") != "csat" and _BARE_NUMBER.fullmatch(text):
            # "2" typed in the middle of a form is not a rating nobody asked for; storing
            # it would also teach the style bandit something the customer never said.
            dispatcher.utter_message(response="utter_number_unclear")
            return []
        raw = latest_entity(tracker, "csat")
        try:
            score = int(str(raw).strip())
            if not 1 <= score <= 5:
                raise FeedbackError("out of range")
        except (TypeError, ValueError):
            dispatcher.utter_message(response="utter_csat_invalid", buttons=CSAT)
            return [SlotSet("pending_question", "csat")]
        await store_feedback(tracker, "csat", score)
        dispatcher.utter_message(response="utter_csat_thanks")
        return [SlotSet("pending_question", None)]
