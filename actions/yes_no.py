"""A yes or a no answers whatever the bot asked last (the `pending_question` slot).

One action for both, so rules stay simple and a stray "yes" with nothing asked gets a polite
"anything else?" instead of a guess.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.feedback import record_thumbs
from actions.form_interruptions import answer_resume
from actions.handoff import accept_handoff, decline_handoff
from actions.help_articles import article_feedback
from actions.privacy import cancel_erase, erase_after_confirmation


class ActionAnswerYesNo(Action):
    def name(self) -> str:
        return "action_answer_yes_no"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        yes = intent == "affirm"
        pending = tracker.get_slot("pending_question")
        if intent == "stop" and pending in ("article", "feedback", "csat"):
            # "Never mind" to "was this helpful?" is not a thumbs down: nothing is recorded.
            dispatcher.utter_message(response="utter_anything_else")
            return [SlotSet("pending_question", None)]
        if pending == "handoff":
            return await accept_handoff(dispatcher, tracker) if yes else decline_handoff(dispatcher)
        if pending == "article":
            return await article_feedback(dispatcher, tracker, yes)
        if pending == "feedback":
            return await record_thumbs(dispatcher, tracker, yes)
        if pending == "resume":
            return answer_resume(dispatcher, tracker, domain, yes)
        if pending == "erase":
            return (
                await erase_after_confirmation(dispatcher, tracker)
                if yes
                else cancel_erase(dispatcher)
            )
        dispatcher.utter_message(response="utter_anything_else")
        return [SlotSet("pending_question", None)]
