"""The customer's mood, updated from every message's sentiment and kept in slots.

Rasa runs `action_validate_slot_mappings` after each user message. Its `extract_identity_proof`
lets a message that proves another customer re-point the conversation (actions/session.py);
its `extract_mood` folds the
sentiment the NLU pipeline put in the parse data into a decayed mood with a trend
(`personalization.sentiment.mood.Mood`). For customers who allow it the score is also stored,
so the engine can learn from conversations. Button clicks carry no text, hence no sentiment.
"""

from __future__ import annotations

import math
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction

from actions.conversation import mood_may_be_used, personal_customer
from actions.gateways.support import support_store
from actions.handoff import offer_human
from actions.session import proof_from_latest_message
from personalization.sentiment.mood import Mood
from personalization.support import escalation


def _number(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, (int, float)) else default


def mood_after(tracker: Tracker, score: float) -> Mood:
    before = Mood(
        _number(tracker.get_slot("mood")),
        _number(tracker.get_slot("mood_slow")),
        int(_number(tracker.get_slot("mood_messages"))),
    )
    return before.update(score)


class ActionValidateSlotMappings(ValidationAction):
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return await self.get_extraction_events(dispatcher, tracker, domain)

    async def extract_identity_proof(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        """Before the mood: a message that proves another customer re-points the conversation
        (``identity_proof`` comes first in the domain, so later extractions see it)."""
        return await proof_from_latest_message(tracker)

    async def extract_mood(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        sentiment = tracker.latest_message.get("sentiment")
        customer_id = personal_customer(tracker)
        if not mood_may_be_used(tracker) or not isinstance(sentiment, dict):
            return {}
        try:
            # Both signals, sentiment and complaint (components/sentiment.py); a parse from a
            # model without the complaint detector carries the sentiment score alone.
            score = float(sentiment.get("mood_score", sentiment["score"]))
        except (KeyError, TypeError, ValueError):
            return {}
        if not math.isfinite(score):  # max/min would turn NaN into the happiest mood
            return {}
        score = max(-1.0, min(1.0, score))
        mood = mood_after(tracker, score)
        if customer_id is not None:
            # A flat complaint is recorded as the unhappy message it is.
            upset = sentiment.get("upset") is True
            label = "negative" if upset else str(sentiment.get("label", "neutral"))
            await support_store().record_sentiment(customer_id, tracker.sender_id, score, label)
        slots = {
            "mood": round(mood.value, 3),
            "mood_slow": round(mood.slow, 3),
            "mood_messages": float(mood.messages),
            "mood_trend": mood.trend,
            "mood_label": escalation.mood_label(mood.value),
        }
        response = mood_offer_response(tracker, mood)
        if response:
            offer = offer_human(dispatcher, "worsening_mood", response)
            slots.update({event["name"]: event["value"] for event in offer})
            slots["mood_offered_at"] = slots["mood"]
        return slots


MOOD_OFFERS = {"first": "utter_offer_human_mood", "again": "utter_offer_human_mood_again"}


def mood_offer_response(tracker: Tracker, mood: Mood) -> str | None:
    """The offer of a person a falling mood calls for (escalation.mood_offer), as a response."""
    offered_at = tracker.get_slot("mood_offered_at")
    offer = escalation.mood_offer(
        mood=mood.value,
        trend=mood.trend,
        previous_trend=tracker.get_slot("mood_trend"),
        offered_at=float(offered_at) if isinstance(offered_at, (int, float)) else None,
        intent=(tracker.latest_message.get("intent") or {}).get("name"),
        busy=bool(
            tracker.get_slot("pending_question")
            or tracker.get_slot("escalation_reason")
            or tracker.active_loop.get("name")
        ),
    )
    return MOOD_OFFERS[offer] if offer else None
