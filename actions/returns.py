"""Returns and refunds: a form for the order and item, the segment's policy, and the return
recorded in PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import personalization_client
from actions.conversation import (
    known_customer,
    latest_entity,
    private_customer,
    refuse_unless_private,
    typed_answer,
)
from actions.feedback import ask_if_helpful
from actions.handoff import escalate_if_needed
from actions.orders import IDENTIFY_BUTTON, OrderNumberValidation, find_order, nice_date
from actions.payloads import intent_payload
from personalization.support.orders import Order
from personalization.support.returns import ReturnDecision, ReturnService


class ValidateReturnForm(OrderNumberValidation, FormValidationAction):
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

    async def extract_return_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "return_item":
            product = latest_entity(tracker, "product")
            return {"return_item": product} if product else {}
        return {"return_item": latest_entity(tracker, "product") or typed_answer(tracker)}

    def slots_from_order(self, order: Order | bool) -> dict[str, Any]:
        if isinstance(order, Order) and len(order.lines) == 1:
            return {"return_item": order.lines[0].stock_code}  # nothing to ask
        return {}


class ActionAskReturnItem(Action):
    """Asks which item, with the order's items as buttons."""

    def name(self) -> str:
        return "action_ask_return_item"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        order_id = tracker.get_slot("order_number")
        order = await find_order(tracker, order_id) if order_id else None
        lines = order.lines if isinstance(order, Order) else ()
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
        done: list[EventType] = [SlotSet("order_number", None), SlotSet("return_item", None)]
        if known_customer(tracker) is None:
            dispatcher.utter_message(response="utter_identify_first", buttons=IDENTIFY_BUTTON)
            return done
        if refuse_unless_private(dispatcher, tracker):
            return done
        order_id = tracker.get_slot("order_number")
        order = await find_order(tracker, order_id) if order_id else None
        if not isinstance(order, Order):
            dispatcher.utter_message(response="utter_orders_unavailable")
            return done
        segment = tracker.get_slot("customer_segment")
        item = tracker.get_slot("return_item")

        def work() -> ReturnDecision:
            service = ReturnService(personalization_client.database())
            decision = service.decide(order, item, segment, date.today())
            return (
                service.record(order, decision, tracker.sender_id)
                if decision.accepted
                else decision
            )

        decision = await personalization_client.call("return", work, None)
        if decision is None:
            dispatcher.utter_message(response="utter_orders_unavailable")
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
            return done + ask_if_helpful(dispatcher)
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
