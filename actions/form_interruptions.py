"""Leaving a form the way a person would: "stop" stops it and forgets its answers, "ok thanks"
offers to finish it instead of asking the same question again, and a yes picks it up where it
was left.

Rules (data/rules.yml) deactivate the form first; these actions then look back for which
form it was, so one action serves every form.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import latest_entity
from actions.payloads import intent_payload

CHOICES = "order_choices"  # see actions/orders.py
# How each form's task is said: "Okay, I've stopped booking your return."
TASKS = {
    "order_status_form": "checking your order",
    "return_form": "booking your return",
    "onboarding_form": "finding you some ideas",
    "identify_form": "signing you in",
}
RESUME_BUTTONS = [
    {"title": "Yes, carry on", "payload": intent_payload("affirm")},
    {"title": "No, that's all", "payload": intent_payload("deny")},
]


def interrupted_form(tracker: Tracker) -> str | None:
    """The form that was active last; the rules have just deactivated it."""
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name"):
            return str(event["name"])
    return None


def task(form: str | None) -> str:
    return TASKS.get(form or "", "there")


def forget_answers(form: str | None, domain: dict[str, Any]) -> list[EventType]:
    """Unset the form's slots, so asking again later starts afresh."""
    required = ((domain.get("forms") or {}).get(form or "") or {}).get("required_slots") or []
    return [SlotSet(slot, None) for slot in required]


class ActionStopForm(Action):
    def name(self) -> str:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        form = interrupted_form(tracker)
        dispatcher.utter_message(response="utter_form_stopped", task=task(form))
        return [*forget_answers(form, domain), SlotSet("paused_form", None), SlotSet(CHOICES, None)]


class ActionOfferResume(Action):
    def name(self) -> str:
        return "action_offer_resume"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        form = interrupted_form(tracker)
        if form is None:
            dispatcher.utter_message(response="utter_you_are_welcome")
            return []
        dispatcher.utter_message(
            response="utter_offer_resume", task=task(form), buttons=RESUME_BUTTONS
        )
        return [SlotSet("pending_question", "resume"), SlotSet("paused_form", form)]


def answer_resume(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any], yes: bool
) -> list[EventType]:
    """The customer's answer to "Shall we finish …?"."""
    form = tracker.get_slot("paused_form")
    done: list[EventType] = [SlotSet("pending_question", None), SlotSet("paused_form", None)]
    if yes and form in TASKS:
        return [*done, FollowupAction(form)]  # the form asks its next question
    dispatcher.utter_message(response="utter_resume_declined")
    return [*done, SlotSet(CHOICES, None), *forget_answers(form, domain)]


def leave_form(tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
    """Events that end the form under way when the customer changes course ("actually, I want
    to talk about a payment"): the new journey is answered and the old form is not asked again.
    Side questions ("are you a bot?") do not call this; their form resumes after the answer."""
    form = (tracker.active_loop or {}).get("name")
    if not form:
        return []
    return [
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        SlotSet(CHOICES, None),
        *forget_answers(form, domain),
    ]


class ActionStrayAnswer(Action):
    """An answer with no form asking for it: a click on an order button after "ok thanks"
    picks the paused form up with it, and an order number or a date on its own is looked up."""

    def name(self) -> str:
        return "action_stray_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        paused = tracker.get_slot("paused_form")
        if tracker.get_slot("pending_question") == "resume" and paused in TASKS:
            return [
                SlotSet("pending_question", None),
                SlotSet("paused_form", None),
                FollowupAction(paused),
            ]
        if latest_entity(tracker, "order_number") or latest_entity(tracker, "date"):
            # "DEMO-…", "and the one from 15 September?": an order, looked up.
            return [FollowupAction("order_status_form")]
        dispatcher.utter_message(response="utter_anything_else")
        return []
