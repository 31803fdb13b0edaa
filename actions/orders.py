"""Order status and delivery problems: a form for the order number, the answer from PostgreSQL,
and for a late parcel an apology scaled to the customer's value and mood."""

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
    mood,
    personal_customer,
    private_customer,
    refuse_unless_private,
    typed_answer,
)
from actions.feedback import ask_if_helpful
from actions.handoff import escalate_if_needed, hand_off
from actions.payloads import intent_payload
from personalization.support.apology import late_order_gesture
from personalization.support.order_dates import order_date_window
from personalization.support.orders import Order, OrderRepository, normalise_order_number

IDENTIFY_BUTTON = [{"title": "Sign in with my email", "payload": intent_payload("identify")}]


def nice_date(value: date | None) -> str:
    """A weekday and day as people say them; the year only when it is not this one."""
    if value is None:
        return "soon"
    return value.strftime("%A %-d %B" if value.year == date.today().year else "%A %-d %B %Y")


async def find_order(tracker: Tracker, order_id: str) -> Order | bool | None:
    """The customer's order; None if it is not theirs; False if the store cannot say."""
    customer_id = private_customer(tracker)
    if customer_id is None:
        return None
    return await personalization_client.call(
        "order lookup",
        lambda: OrderRepository(personalization_client.database()).for_customer(
            order_id, customer_id
        ),
        False,
    )


def order_button(order_id: str, title: str | None = None) -> dict[str, str]:
    return {"title": title or order_id, "payload": intent_payload("inform", order_number=order_id)}


async def recent_order_buttons(tracker: Tracker) -> list[dict[str, str]]:
    customer_id = private_customer(tracker)
    if customer_id is None:
        return []
    ids = await personalization_client.call(
        "recent orders",
        lambda: OrderRepository(personalization_client.database()).latest_ids(customer_id),
        [],
    )
    return [order_button(i) for i in ids]


async def order_from_date(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any] | None:
    """The order a known customer names by when they placed it ("the one from last Tuesday").

    Only a phrase the `date` pattern found is read, so "14" or a stock code is never taken
    for a day. One order on the very day named, or one in the window, fills the slot.
    Several, or none, are said with buttons to pick from, and the form asks again. None when
    no date was given or the store cannot say.
    """
    customer_id = private_customer(tracker)
    phrase = latest_entity(tracker, "date")  # the date pattern in data/nlu_entities.yml
    window = order_date_window(phrase, date.today()) if customer_id else None
    if window is None:
        return None
    found = await personalization_client.call(
        "orders by date",
        lambda: OrderRepository(personalization_client.database()).placed_between(
            customer_id, window.start, window.end
        ),
        None,
    )
    if found is None:
        return None
    on_the_day = [order_id for order_id, day in found if day == window.day]
    if len(on_the_day) == 1:
        return {"order_number": on_the_day[0]}
    if len(found) == 1:
        return {"order_number": found[0][0]}
    if found:
        buttons = [order_button(i, f"{i} ({nice_date(day)})") for i, day in found]
        dispatcher.utter_message(
            response="utter_orders_on_date",
            when=window.label,
            count=str(len(found)),
            buttons=buttons,
        )
    else:
        dispatcher.utter_message(
            response="utter_no_order_on_date",
            when=window.label,
            buttons=await recent_order_buttons(tracker),
        )
    return {}


def order_number_or_complain(value: Any, dispatcher: CollectingDispatcher) -> str | None:
    """The order number in a form answer, or None after telling the customer its shape."""
    order_id = normalise_order_number(str(value or ""))
    if order_id is None:
        dispatcher.utter_message(response="utter_order_number_invalid")
    return order_id


class OrderNumberValidation:
    """Mixed into the order-status and return forms: a real order number of this customer.

    Not an Action itself, so the SDK does not register it.
    """

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        typed = latest_entity(tracker, "order_number")
        if typed:  # a number typed now wins over one from earlier in the conversation
            return {"order_number": typed}
        if tracker.get_slot("order_number"):
            return {}
        by_date = await order_from_date(dispatcher, tracker)
        if by_date is not None:
            return by_date
        if tracker.get_slot("requested_slot") == "order_number":
            text = typed_answer(tracker) or ""
            if normalise_order_number(text):
                return {"order_number": text}
            return {}
        open_orders = tracker.get_slot("open_orders") or []
        if len(open_orders) == 1 and tracker.get_intent_of_latest_message() == "order_status":
            return {"order_number": open_orders[0]["id"]}  # the only parcel on its way
        return {}

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        order_id = order_number_or_complain(value, dispatcher)
        if order_id is None:
            return {"order_number": None}
        if private_customer(tracker) is None:
            return {"order_number": order_id}  # the action asks to identify, or for a DM
        found = await find_order(tracker, order_id)
        if found is None:
            dispatcher.utter_message(
                response="utter_order_not_found",
                order_id=order_id,
                buttons=await recent_order_buttons(tracker),
            )
            return {"order_number": None}
        return {"order_number": order_id, **self.slots_from_order(found)}

    def slots_from_order(self, order: Order | bool) -> dict[str, Any]:
        """Other slots a validated order answers (none here; the return form fills its item)."""
        return {}


class ValidateOrderStatusForm(OrderNumberValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_order_status_form"


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        done: list[EventType] = [SlotSet("order_number", None)]
        order_id = tracker.get_slot("order_number")
        if known_customer(tracker) is None:
            dispatcher.utter_message(response="utter_identify_first", buttons=IDENTIFY_BUTTON)
            return done
        if refuse_unless_private(dispatcher, tracker):
            return done
        order = await find_order(tracker, order_id) if order_id else None
        if not isinstance(order, Order):
            dispatcher.utter_message(response="utter_orders_unavailable")
            return done
        today = date.today()
        late = order.days_late(today)
        if late:
            return done + await self._late(dispatcher, tracker, order, late)
        self._status(dispatcher, order)
        return done + ask_if_helpful(dispatcher)

    @staticmethod
    def _status(dispatcher: CollectingDispatcher, order: Order) -> None:
        if order.status == "shipped":
            dispatcher.utter_message(
                response="utter_order_shipped",
                order_id=order.id,
                expected_delivery=nice_date(order.expected_delivery),
                items=", ".join(line.description.title() for line in order.lines[:3]),
            )
        elif order.status == "placed":
            dispatcher.utter_message(
                response="utter_order_placed",
                order_id=order.id,
                expected_delivery=nice_date(order.expected_delivery),
            )
        elif order.status == "delivered" and order.expected_delivery:
            dispatcher.utter_message(
                response="utter_order_delivered",
                order_id=order.id,
                delivered_on=nice_date(order.expected_delivery),
            )
        elif order.status == "delivered":
            # The shop's history has no delivery date; the day it was placed is what we know.
            dispatcher.utter_message(
                response="utter_order_delivered_undated",
                order_id=order.id,
                ordered_on=nice_date(order.ordered_on),
            )
        else:
            dispatcher.utter_message(
                response="utter_order_closed", order_id=order.id, status=order.status
            )

    @staticmethod
    async def _late(
        dispatcher: CollectingDispatcher, tracker: Tracker, order: Order, days: int
    ) -> list[EventType]:
        personal = personal_customer(tracker) is not None
        tier = tracker.get_slot("customer_tier") if personal else None
        value, _ = mood(tracker)
        gesture = late_order_gesture(days, order.total, tier, value if personal else 0.0)
        dispatcher.utter_message(
            response="utter_order_late",
            order_id=order.id,
            expected_delivery=nice_date(order.expected_delivery),
            days_late=str(days),
        )
        if gesture.level == "apology":
            dispatcher.utter_message(response="utter_late_apology")
        else:
            dispatcher.utter_message(
                response="utter_late_voucher", voucher=f"£{gesture.voucher:.2f}"
            )
        if gesture.escalate:
            return await hand_off(dispatcher, tracker, "late_order")
        done, events = await escalate_if_needed(dispatcher, tracker, problem="late_order")
        if done != "none":
            return events
        dispatcher.utter_message(response="utter_late_next_steps")
        return ask_if_helpful(dispatcher)
