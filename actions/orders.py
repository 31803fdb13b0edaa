"""Order status and delivery problems: a form for the order number, the answer from PostgreSQL,
and for a late parcel an apology scaled to the customer's value and mood."""

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
    mood,
    personal_customer,
    private_customer,
    refuse_unless_private,
    typed_answer,
)
from actions.feedback import ask_if_helpful
from actions.gateways.orders import order_store
from actions.handoff import escalate_if_needed, hand_off
from actions.outcome import Outcome
from actions.payloads import intent_payload
from personalization.support.apology import late_order_gesture
from personalization.support.order_dates import order_date_window
from personalization.support.order_finder import Candidate, Found, OrderMatch, with_article
from personalization.support.orders import (
    Order,
    OrderLine,
    normalise_order_number,
    tries_an_order_number,
)

CHOICES_SLOT = "order_choices"  # the orders that fit the item named, as buttons
# Messages that are clearly about something else: unless they name an order, the form lets
# the rules answer them (by rejecting), and asks again afterwards.
SIDE_TOPICS = frozenset(
    {
        "bot_challenge",
        "ask_help",
        "thank",
        "goodbye",
        "greet",
        "stop",
        "deny",
        "request_human",
        "complain",
        "billing_problem",
        "ask_recommendation",
        "refine_recommendation",
        "choose_product",
        "rate",
        "how_are_you",
        "out_of_scope",
        "ask_my_data",
        "delete_my_data",
        "opt_out",
        "opt_in",
    }
)
# Side topics a classifier gives to sentences that still answer the question: "no idea"
# (deny), "no, the candles" (deny), "dunno mate" (out_of_scope).
MISREAD_ANSWERS = frozenset({"deny", "out_of_scope"})
# Intents that answer "which order?" even when they name nothing we can find.
ANSWER_INTENTS = frozenset(
    {"inform", "nlu_fallback", "affirm", "dont_know", "order_status", "request_return"}
)
MAX_ORDER_BUTTONS = 4
MAX_TITLE = 60
_COUNTS = ("No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten")


def nice_date(value: date | None) -> str:
    """A weekday and day as people say them; the year only when it is not this one."""
    if value is None:
        return "soon"
    return value.strftime("%A %-d %B" if value.year == date.today().year else "%A %-d %B %Y")


async def find_order(tracker: Tracker, order_id: str) -> Outcome[Order]:
    """The customer's order: refused if it is not theirs (or no private customer asks),
    unavailable if the store cannot say."""
    customer_id = private_customer(tracker)
    if customer_id is None:
        return Outcome.refused("no private customer")
    return await order_store().order(order_id, customer_id)


def order_button(order_id: str, title: str | None = None) -> dict[str, str]:
    return {"title": title or order_id, "payload": intent_payload("inform", order_number=order_id)}


def order_title(order: Order, first: OrderLine | None = None) -> str:
    """When, and what, in a button's width: "12 Nov · Ceramic Vase Speckled, Mug …".

    ``first`` (the item the customer named) leads, so each button shows why it is there.
    """
    day = order.ordered_on
    when = day.strftime("%-d %b" if day.year == date.today().year else "%-d %b %Y")
    lines = sorted(order.lines, key=lambda line: line != first)
    title = f"{when} · " + (", ".join(line.description.title() for line in lines) or order.id)
    if len(title) <= MAX_TITLE:
        return title
    return title[: MAX_TITLE - 2].rsplit(" ", 1)[0].rstrip(",·") + " …"


def candidate_button(candidate: Candidate, with_item: bool = False) -> dict[str, str]:
    """An order to pick, with the item named in its payload when the form wants the item."""
    line = candidate.line
    entities = {"order_number": candidate.order.id}
    if with_item and line is not None:
        entities["product"] = line.stock_code
    return {
        "title": order_title(candidate.order, line),
        "payload": intent_payload("inform", **entities),
    }


def count_word(n: int) -> str:
    return _COUNTS[n] if n < len(_COUNTS) else str(n)


def since_label(day: date) -> str:
    """The month, as in "since March"; with its year ("March 2025") when not this one."""
    return day.strftime("%B" if day.year == date.today().year else "%B %Y")


def said(tracker: Tracker) -> str | None:
    """The customer's latest words, whatever they were classified as; None for a button."""
    text = tracker.latest_message.get("text")
    return text if text and not text.startswith("/") else None


def latest_intent(tracker: Tracker) -> str | None:
    """The classifier's intent for the latest message as it stands: "nlu_fallback" when it
    was unsure (an unsure guess at a side topic is no reason to leave the form)."""
    return (tracker.latest_message.get("intent") or {}).get("name")


def buttons_offered_since_customer_spoke(tracker: Tracker) -> bool:
    """Whether this turn already offered orders to pick: asking again would repeat them.
    Other buttons (related help articles after a side question) do not count."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        buttons = (
            (event.get("data") or {}).get("buttons") or [] if event.get("event") == "bot" else []
        )
        if any("order_number" in str(button.get("payload") or "") for button in buttons):
            return True
    return False


async def recent_order_buttons(tracker: Tracker) -> list[dict[str, str]]:
    customer_id = private_customer(tracker)
    if customer_id is None:
        return []
    orders = (await order_store().recent_orders(customer_id, MAX_ORDER_BUTTONS)).value_or([])
    return [candidate_button(Candidate(order)) for order in orders]  # date and items


async def order_from_date(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any] | None:
    """The order a known customer names by when they placed it ("the one from last Tuesday").

    Only a phrase the `date` pattern found is read, so "14" or a stock code is never taken
    for a day. One order on the very day named, or one in the window, fills the slot.
    Several, or none, are said with buttons to pick from, and the form asks again. None when
    no date was given; when the store cannot say, the customer is told so and asked for the
    number instead.
    """
    customer_id = private_customer(tracker)
    phrase = latest_entity(tracker, "date")  # the date pattern in data/nlu_entities.yml
    window = order_date_window(phrase, date.today()) if customer_id else None
    if window is None:
        return None
    outcome = await order_store().placed_between(customer_id, window.start, window.end)
    if outcome.value is None:
        if outcome.is_unavailable:
            dispatcher.utter_message(response="utter_store_unavailable_orders")
        return None
    found = outcome.value
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
    return still_asking(tracker)


def still_asking(tracker: Tracker) -> dict[str, Any]:
    """What a form's validation returns when it answered the message itself (buttons, "I
    can't see that"): while the order number is the question, a slot event, so the form
    keeps the conversation instead of rejecting the message to the fallback."""
    if tracker.get_slot("requested_slot") == "order_number":
        return {"order_number": None}
    return {}


def order_number_or_complain(value: Any, dispatcher: CollectingDispatcher) -> str | None:
    """The order number in a form answer, or None after telling the customer its shape."""
    order_id = normalise_order_number(str(value or ""))
    if order_id is None:
        dispatcher.utter_message(response="utter_order_number_invalid")
    return order_id


class OrderNumberValidation:
    """Mixed into the order-status and return forms: a real order number of this customer.

    A known customer need not know the number: the order is found from what they say (an
    item, "the last one", a date, the only parcel on its way), and what cannot be found is
    said plainly, with their recent orders to pick from. Not an Action itself, so the SDK
    does not register it.
    """

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # The SDK keeps only the form's own slots from an extraction; the orders an item fits
        # are kept beside them, so a later question offers them again.
        before = tracker.get_slot(CHOICES_SLOT)
        events = await super().run(dispatcher, tracker, domain)  # type: ignore[misc]
        after = tracker.slots.get(CHOICES_SLOT)
        named = any(e.get("event") == "slot" and e.get("name") == CHOICES_SLOT for e in events)
        if after != before and not named:
            events.append(SlotSet(CHOICES_SLOT, after))
        return events

    purpose: str | None = None  # "status" or "return": which orders can be meant

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
        answer = typed_answer(tracker) or ""
        if tracker.get_slot("requested_slot") == "order_number" and (
            normalise_order_number(answer) or tries_an_order_number(answer)
        ):
            return {"order_number": answer}  # a wrong one is told the number's shape
        by_words = await self.order_from_words(dispatcher, tracker)
        if by_words is not None:
            return by_words
        open_orders = tracker.get_slot("open_orders") or []
        if len(open_orders) == 1 and tracker.get_intent_of_latest_message() == "order_status":
            return {"order_number": open_orders[0]["id"]}  # the only parcel on its way
        return {}

    async def order_from_words(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any] | None:
        """The order a known customer's words point at, or what to tell them when several
        or none fit; None when there is nobody to look for or the store cannot say."""
        customer_id = private_customer(tracker)
        text = said(tracker)
        if customer_id is None or text is None:
            return None
        intent = latest_intent(tracker)
        outcome = await order_store().match(
            customer_id, text, self.purpose, dont_know=intent == "dont_know"
        )
        match = outcome.value
        if match is None:
            return None
        side_topic = intent in SIDE_TOPICS
        if match.found is Found.ONE and match.order is not None:
            if side_topic and match.basis == "only_open":
                return {}  # "thanks" names no order, even with one on its way
            return {"order_number": match.order.id, **self.slots_from_match(match)}
        if side_topic and not (intent in MISREAD_ANSWERS and match.found is not Found.NOTHING):
            return {}
        if match.found is Found.SEVERAL:
            offered = self._say_several(dispatcher, match)
            # Kept, so asking again later (after a reason, a side question) offers these.
            # Kept with whose they are: only that customer is ever offered them again.
            mine = {"customer_id": customer_id, "buttons": offered}
            return {**still_asking(tracker), CHOICES_SLOT: mine}
        elif match.found is Found.NO_SUCH_ITEM:
            self._say_no_such_item(dispatcher, match)
        elif match.found is Found.DONT_KNOW:
            self._say_recent(dispatcher, match)
        elif intent not in ANSWER_INTENTS and typed_answer(tracker) is None:
            return {}
        return still_asking(tracker)

    def _say_several(
        self, dispatcher: CollectingDispatcher, match: OrderMatch
    ) -> list[dict[str, str]]:
        shown = match.candidates[:MAX_ORDER_BUTTONS]
        buttons = [candidate_button(c, self.purpose == "return") for c in shown]
        dispatcher.utter_message(
            response="utter_orders_with_item"
            if len(shown) == len(match.candidates)
            else "utter_orders_with_item_latest",
            count=count_word(len(match.candidates)),
            shown=count_word(len(shown)).lower(),
            item=with_article(match.item or "it"),
            buttons=buttons,
        )
        return buttons

    @staticmethod
    def _say_no_such_item(dispatcher: CollectingDispatcher, match: OrderMatch) -> None:
        if match.since is None:
            dispatcher.utter_message(response="utter_no_orders_on_account")
            return
        dispatcher.utter_message(
            response="utter_item_not_in_orders",
            item=with_article(match.item or "it"),
            since=since_label(match.since),
            buttons=[candidate_button(Candidate(o)) for o in match.recent[:MAX_ORDER_BUTTONS]],
        )

    @staticmethod
    def _say_recent(dispatcher: CollectingDispatcher, match: OrderMatch) -> None:
        if not match.recent:
            dispatcher.utter_message(response="utter_no_orders_on_account")
            return
        dispatcher.utter_message(
            response="utter_recent_orders_no_number",
            buttons=[candidate_button(Candidate(o)) for o in match.recent[:MAX_ORDER_BUTTONS]],
        )

    def slots_from_match(self, match: OrderMatch) -> dict[str, Any]:
        """Other slots an order found from the customer's words answers (the return form:
        the item they named)."""
        return {}

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if value is None:  # still asking: the extraction has said why
            return {"order_number": None}
        order_id = order_number_or_complain(value, dispatcher)
        if order_id is None:
            return {"order_number": None}
        if private_customer(tracker) is None:
            return {"order_number": order_id}  # the action asks to identify, or for a DM
        found = await find_order(tracker, order_id)
        if found.is_refused:
            dispatcher.utter_message(
                response="utter_order_not_found",
                order_id=order_id,
                buttons=await recent_order_buttons(tracker),
            )
            return {"order_number": None}
        # Unavailable: keep the number; the journey's action says the store cannot answer.
        return {"order_number": order_id, CHOICES_SLOT: None, **self.slots_from_order(found.value)}

    def slots_from_order(self, order: Order | None) -> dict[str, Any]:
        """Other slots a validated order answers (none here; the return form fills its item)."""
        return {}


class ValidateOrderStatusForm(OrderNumberValidation, FormValidationAction):
    purpose = "status"

    def name(self) -> str:
        return "validate_order_status_form"


class ActionAskOrderNumber(Action):
    """Asks which order: a known customer picks from their recent orders (or says what was
    in it); only a visitor is asked for the number from the confirmation email."""

    def name(self) -> str:
        return "action_ask_order_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if buttons_offered_since_customer_spoke(tracker):
            return []  # the validation just offered the orders that fit
        customer_id = private_customer(tracker)
        choices = tracker.get_slot(CHOICES_SLOT)
        if isinstance(choices, dict) and customer_id and choices.get("customer_id") == customer_id:
            # The orders the item named fits, offered again to the customer they belong to.
            buttons = choices.get("buttons") or []
            dispatcher.utter_message(response="utter_ask_which_of_these", buttons=buttons)
            return []
        orders: list[Order] = []
        if customer_id is not None:
            outcome = await order_store().recent_orders(customer_id, MAX_ORDER_BUTTONS)
            orders = outcome.value_or([])
        if not orders:
            dispatcher.utter_message(response="utter_ask_order_number")
            return []
        dispatcher.utter_message(
            response="utter_ask_which_order",
            buttons=[candidate_button(Candidate(order)) for order in orders],
        )
        return []


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        done: list[EventType] = [SlotSet("order_number", None), SlotSet(CHOICES_SLOT, None)]
        order_id = tracker.get_slot("order_number")
        if known_customer(tracker) is None:
            return [*ask_to_identify(dispatcher), *done]
        if refuse_unless_private(dispatcher, tracker):
            return done
        if not order_id:
            dispatcher.utter_message(response="utter_orders_unavailable")
            return done
        found = await find_order(tracker, order_id)
        order = found.value
        if order is None:
            if found.is_unavailable:
                dispatcher.utter_message(response="utter_store_unavailable_orders")
            else:
                dispatcher.utter_message(
                    response="utter_order_not_found",
                    order_id=order_id,
                    buttons=await recent_order_buttons(tracker),
                )
            return done
        today = date.today()
        late = order.days_late(today)
        if late:
            return done + await self._late(dispatcher, tracker, order, late)
        self._status(dispatcher, order)
        return done + await ask_if_helpful(dispatcher, tracker)

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
        keep_close = personal and tracker.get_slot("customer_at_risk") is True
        gesture = late_order_gesture(
            days, order.total, tier, value if personal else 0.0, keep_close
        )
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
        return await ask_if_helpful(dispatcher, tracker)
