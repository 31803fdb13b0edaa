"""Returns and refunds: a form for the order and item, the segment's policy, and the return
recorded in PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import (
    ask_to_identify,
    known_customer,
    latest_entity,
    private_customer,
    refuse_unless_private,
    typed_answer,
)
from actions.feedback import ask_if_helpful
from actions.gateways.support import support_store
from actions.handoff import escalate_if_needed
from actions.orders import (
    CHOICES_SLOT,
    SIDE_TOPICS,
    OrderNumberValidation,
    find_order,
    latest_intent,
    nice_date,
    said,
)
from actions.payloads import intent_payload
from personalization.redaction import redact
from personalization.support.order_finder import OrderMatch, item_words
from personalization.support.orders import Order
from personalization.support.return_reasons import (
    MAX_REASON_CHARS,
    OUR_FAULT,
    reason_in,
    reason_kind,
)
from personalization.support.returns import ReturnDecision, cannot_be_returned

NOT_ASKED = "(not asked: the order cannot be returned)"

# Side topics a sentence giving a reason is often classified as: "not what I expected"
# (deny), "it arrived broken" (complain), "changed my mind" (stop). With a reason in it, such
# a sentence is the reason; other side topics ("it's broken, get me a person") stay theirs.
_REASON_MISREAD_AS = frozenset({"deny", "complain", "out_of_scope", "stop"})
# Answers to "why?" taken as they are, reason or not ("it's rubbish", "my cat hates it").
# A bare "no" or "cancel" is not a reason: the rules stop the return, none is booked unasked.
_ANY_WORDS_FOR_WHY = _REASON_MISREAD_AS - {"stop", "deny"}


class ValidateReturnForm(OrderNumberValidation, FormValidationAction):
    """The return form: which order, which item, and why.

    Whatever the question, a sentence that gives a reason ("it arrived chipped", "wrong
    size") is kept as the return's reason, acknowledged, and the form goes on: it is never
    a "no", nor an item, nor a reason to fall back.
    """

    purpose = "return"

    def name(self) -> str:
        return "validate_return_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        # A visitor is asked to identify first; an order of one item needs no item question.
        if private_customer(tracker) is None:
            return []
        return domain_slots

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        # Runs first, whatever the question: the reason is acknowledged before the rest.
        reason = self._volunteered_reason(dispatcher, tracker)
        slots = await super().extract_order_number(dispatcher, tracker, domain)
        if "return_item" not in slots and tracker.get_slot("requested_slot") != "return_item":
            product = latest_entity(tracker, "product")  # "return the teapot", or a button
            if product:
                slots = {**slots, "return_item": product}
        return {**reason, **slots}

    async def extract_return_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "return_item":
            return {}  # named with the order (extract_order_number), or asked for next
        product = latest_entity(tracker, "product")
        if product:
            return {"return_item": product}
        answer = typed_answer(tracker)
        if answer and reason_in(answer):  # "it's chipped": the reason, and maybe the item
            words = item_words(answer)
            return {"return_item": " ".join(words)} if words else {}
        return {"return_item": answer}

    async def extract_return_reason(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "return_reason":
            return {}
        chosen = latest_entity(tracker, "return_reason")  # one of the question's buttons
        if chosen:
            return {"return_reason": chosen}
        text = said(tracker)
        intent = latest_intent(tracker)
        if not text or (intent in SIDE_TOPICS and intent not in _REASON_MISREAD_AS):
            return {}  # "a person please", "are you a bot?": the rules answer that
        if reason_in(text) or intent not in SIDE_TOPICS or intent in _ANY_WORDS_FOR_WHY:
            return {"return_reason": text}  # any words of their own will do
        return {}  # "no", "cancel": the rules stop the return

    async def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        # Masked before it is cut, so a card number or email across the cut is still masked.
        text = " ".join(redact(str(value or "")).split())[:MAX_REASON_CHARS]
        return {"return_reason": text or None}

    @staticmethod
    def _volunteered_reason(dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """A reason given before it was asked for: kept, and said to be noted."""
        if tracker.get_slot("requested_slot") == "return_reason" or tracker.get_slot(
            "return_reason"
        ):
            return {}
        text = said(tracker)
        reason = reason_in(text)
        intent = latest_intent(tracker)
        if text is None or reason is None:
            return {}
        if intent in SIDE_TOPICS and intent not in _REASON_MISREAD_AS:
            return {}
        dispatcher.utter_message(
            response="utter_return_reason_sorry"
            if reason.our_fault
            else "utter_return_reason_noted"
        )
        return {"return_reason": text}

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        slots = await super().validate_order_number(value, dispatcher, tracker, domain)
        order_id = slots.get("order_number")
        if not order_id or private_customer(tracker) is None:
            return slots
        order = (await find_order(tracker, order_id)).value
        segment = tracker.get_slot("customer_segment")
        if order is None or cannot_be_returned(order, segment, date.today()) is None:
            return slots
        # Nothing on it can be returned: no item or reason is asked, and the form ends at
        # once with the submit action saying why.
        item = slots.get("return_item") or tracker.get_slot("return_item")
        reason = tracker.get_slot("return_reason") or NOT_ASKED
        first = order.lines[0].stock_code if order.lines else NOT_ASKED
        return {**slots, "return_item": item or first, "return_reason": reason}

    def slots_from_order(self, order: Order | None) -> dict[str, Any]:
        if order is not None and len(order.lines) == 1:
            return {"return_item": order.lines[0].stock_code}  # nothing to ask
        return {}

    def slots_from_match(self, match: OrderMatch) -> dict[str, Any]:
        # "the speckled vase": the order, and the item on it, so neither is asked again.
        return {"return_item": match.line.stock_code} if match.line is not None else {}


class ActionAskReturnItem(Action):
    """Asks which item, with the order's items as buttons."""

    def name(self) -> str:
        return "action_ask_return_item"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        order_id = tracker.get_slot("order_number")
        order = (await find_order(tracker, order_id)).value if order_id else None
        lines = order.lines if order is not None else ()
        dispatcher.utter_message(
            response="utter_ask_return_item",
            buttons=[
                {
                    "title": line.description.title(),
                    "payload": intent_payload("inform", product=line.stock_code),
                }
                for line in lines
            ],
        )
        return []


class ActionSubmitReturn(Action):
    def name(self) -> str:
        return "action_submit_return"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        done: list[EventType] = [
            SlotSet("order_number", None),
            SlotSet(CHOICES_SLOT, None),
            SlotSet("return_item", None),
            SlotSet("return_reason", None),
        ]
        if known_customer(tracker) is None:
            return [*ask_to_identify(dispatcher), *done]
        if refuse_unless_private(dispatcher, tracker):
            return done
        order_id = tracker.get_slot("order_number")
        found = await find_order(tracker, order_id) if order_id else None
        order = found.value if found is not None else None
        if order is None:
            unavailable = found is not None and found.is_unavailable
            dispatcher.utter_message(
                response="utter_store_unavailable_orders"
                if unavailable
                else "utter_orders_unavailable"
            )
            return done
        segment = tracker.get_slot("customer_segment")
        item = tracker.get_slot("return_item")
        reason = tracker.get_slot("return_reason")
        outcome = await support_store().request_return(
            order, item, segment, tracker.sender_id, reason
        )
        decision = outcome.value
        if decision is None:
            # Nothing was booked (a deadline cancels the work before it commits): say so.
            dispatcher.utter_message(response="utter_store_unavailable_returns")
            return done
        if decision.accepted:
            assert decision.line is not None
            dispatcher.utter_message(
                response="utter_return_accepted",
                item=decision.line.description.title(),
                refund=f"£{decision.refund:.2f}",
                window_days=str(decision.policy.window_days),
            )
            if decision.policy.free_collection:
                dispatcher.utter_message(response="utter_return_free_collection")
            elif reason_kind(reason) in OUR_FAULT:
                dispatcher.utter_message(response="utter_return_postage_on_us")
            return done + await ask_if_helpful(dispatcher, tracker)
        self._refusal(dispatcher, order, decision)
        _, events = await escalate_if_needed(dispatcher, tracker, problem="complaint")
        return done + events

    @staticmethod
    def _refusal(dispatcher: CollectingDispatcher, order: Order, decision: ReturnDecision) -> None:
        if decision.reason == "not_delivered":
            dispatcher.utter_message(response="utter_return_not_delivered", order_id=order.id)
        elif decision.reason == "too_late":
            dispatcher.utter_message(
                response="utter_return_too_late",
                order_id=order.id,
                window_days=str(decision.policy.window_days),
                deadline=nice_date(decision.deadline),
            )
        elif decision.reason == "already_requested":
            dispatcher.utter_message(
                response="utter_return_already_requested",
                item=decision.line.description.title() if decision.line else "that item",
            )
        else:
            dispatcher.utter_message(
                response="utter_return_no_such_item",
                order_id=order.id,
                items=", ".join(line.description.title() for line in order.lines),
            )
