"""Product recommendations with buttons; onboarding questions for a new customer first.

What the customer asks for ("a gift for my mum under £15", then "cheaper please", "more like
the second one", "something for the kitchen") is kept in the ``shopping_request`` slot and
honoured: no pick breaks a stated budget, category or exclusion, and a constraint relaxed
because nothing fitted is said so. What was shown and what was clicked are recorded as
interactions (only with consent), so the recommender learns from the conversation too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import latest_entity, personal_customer, treatment, typed_answer
from actions.form_interruptions import leave_form
from actions.gateways.recommendations import recommendation_store
from actions.payloads import intent_payload
from personalization.catalogue import CATEGORIES, OTHER
from personalization.recommender.service import RequestedRecommendations
from personalization.support.preferences import interest_category, parse_budget
from personalization.support.shopping_request import (
    Ask,
    Budget,
    Said,
    ShoppingRequest,
    money,
    parse,
)

SHOWN = 4
ACTION = "action_recommend_products"
REQUEST_SLOT = "shopping_request"
# A message can refine a list shown at most this many customer messages ago (itself included).
REFINE_WINDOW = 3
INTEREST_BUTTONS = [
    {"title": c, "payload": intent_payload("inform", product=c)}
    for c in ("Home decor", "Kitchen", "Lighting & candles", "Stationery", "Toys & games", "Garden")
]
BUDGET_BUTTONS = [
    {"title": label, "payload": intent_payload("inform", amount=value)}
    for label, value in (("Under £10", 10), ("Under £25", 25), ("Under £50", 50))
]


CARD_CHANNEL = "socketio"  # the web chat draws cards; other channels get buttons


def card_name(item: dict[str, Any]) -> str:
    return str(item.get("description") or item["stock_code"]).strip().title()


def price(item: dict[str, Any]) -> str:
    return f"£{item.get('unit_price') or 0:.2f}"


def choose(item: dict[str, Any]) -> str:
    return intent_payload("choose_product", product=str(item["stock_code"]))


def product_cards(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The web chat's card message. Rasa's socket.io channel emits the custom payload's
    ``data`` as the bot message, so the page receives ``{"cards": [...]}``."""
    return {
        "data": {
            "cards": [
                {
                    "id": item["stock_code"],
                    "name": card_name(item),
                    "price": price(item),
                    "why": item.get("reason") or "",
                    "payload": choose(item),
                }
                for item in items
            ]
        }
    }


def turns_since_list(tracker: Tracker) -> int | None:
    """Customer messages since the last list of picks (1: the list came just before this
    message), or None when there was none in this session."""
    turns = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            turns += 1
        elif kind == "action" and event.get("name") == ACTION:
            return turns
        elif kind == "session_started":
            return None
    return None


def _with_onboarding_answers(said: Said, tracker: Tracker) -> Said:
    """The answers to the two onboarding questions are part of the request they followed."""
    interest, budget = tracker.get_slot("interest"), tracker.get_slot("budget")
    category = said.category or (interest if interest in CATEGORIES else None)
    amount = float(budget) if isinstance(budget, (int, float)) and budget > 0 else None
    limit = said.budget or (Budget.under(amount) if amount else None)
    return replace(said, category=category, budget=limit)


def _asked_before_onboarding(tracker: Tracker) -> dict[str, Any] | None:
    """The message that started the onboarding questions just answered, so the picks after
    them answer it ("a gift for my mum under £15"), not the last answer ("£10")."""
    actions = [e for e in tracker.events if e.get("event") == "action"]
    if not actions or actions[-1].get("name") != "onboarding_form":
        return None
    asked_at = max(
        (
            i
            for i, e in enumerate(tracker.events)
            if e.get("event") == "action" and e.get("name") == ACTION
        ),
        default=None,
    )
    if asked_at is None:
        return None
    for event in reversed(tracker.events[:asked_at]):
        if event.get("event") == "user":
            return event.get("parse_data") or {"text": event.get("text")}
    return None


def _entity_values(message: dict[str, Any], entity: str) -> list[str]:
    return [str(e["value"]) for e in message.get("entities") or () if e.get("entity") == entity]


def _refines(intent: str | None, said: Said) -> bool:
    """Whether a message right after a list changes that list rather than asking anew."""
    if intent == "refine_recommendation":
        return True
    if intent == "inform":
        return said.states_constraints or said.refines
    return bool(said.refines)


def shopping_ask(tracker: Tracker) -> Ask:
    """What the latest message asks for, and whether it refines the list just shown."""
    before_onboarding = _asked_before_onboarding(tracker)
    message = before_onboarding or tracker.latest_message or {}
    text = str(message.get("text") or "")
    said = parse(
        "" if text.startswith("/") else text,
        _entity_values(message, "product"),
        _entity_values(message, "amount"),
    )
    if before_onboarding is not None:
        said = _with_onboarding_answers(said, tracker)
    previous = ShoppingRequest.from_slot(tracker.get_slot(REQUEST_SLOT))
    turns = turns_since_list(tracker)
    on_screen = bool(tracker.get_slot("shown_products"))
    recent = on_screen and turns is not None and turns <= REFINE_WINDOW
    intent = (message.get("intent") or {}).get("name")
    return Ask(said, previous, refine=recent and _refines(intent, said))


def show_picks(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    items: list[dict[str, Any]],
    response: str,
    **values: Any,
) -> None:
    """The picks as cards in the web chat, as buttons elsewhere, under one response."""
    if tracker.get_latest_input_channel() == CARD_CHANNEL:
        dispatcher.utter_message(response=response, json_message=product_cards(items), **values)
    else:
        dispatcher.utter_message(
            response=response,
            buttons=[
                {"title": f"{card_name(item)} ({price(item)})", "payload": choose(item)}
                for item in items
            ],
            **values,
        )


def requested_reply(found: RequestedRecommendations, personal: bool) -> tuple[str, dict[str, Any]]:
    """The response for picks of a stated request, and the words it needs: what was asked,
    and, when nothing fitted it all, what the picks keep instead."""
    request, kept = found.request, found.kept or found.request
    relaxed = {"wanted": request.describe(), "found": kept.describe()}
    if found.relaxed == "budget" and kept.budget is not None:
        return "utter_recommendations_relaxed_budget", relaxed
    if found.relaxed == "budget":
        cheapest = money(min(float(item.get("unit_price") or 0) for item in found.items))
        nearest = request.budget is not None and request.budget.kind in ("under", "up_to")
        response = (
            "utter_recommendations_cheapest" if nearest else "utter_recommendations_nearest_price"
        )
        return response, {**relaxed, "from_price": cheapest}
    if found.relaxed == "category":
        return "utter_recommendations_relaxed_category", relaxed
    if request.constrained:
        if personal:
            return "utter_recommendations_request", {"request": request.describe()}
        return "utter_recommendations_request_popular", {"request": request.describe()}
    if request.seen:
        return "utter_recommendations_more", {}
    return ("utter_recommendations" if personal else "utter_recommendations_popular"), {}


class ActionAskInterest(Action):
    def name(self) -> str:
        return "action_ask_interest"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_ask_interest", buttons=INTEREST_BUTTONS)
        return []


class ActionAskBudget(Action):
    def name(self) -> str:
        return "action_ask_budget"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_ask_budget", buttons=BUDGET_BUTTONS)
        return []


# "I don't know" to the onboarding questions: no category, no budget, and no third question.
ANY_INTEREST = "anything"
NO_BUDGET = 0.0
# What can answer an onboarding question; anything else (a return, "are you a bot?") is
# left to the rules, and a new journey ends the onboarding.
_ONBOARDING_ANSWERS = {
    "inform",
    "nlu_fallback",
    "ask_recommendation",
    "refine_recommendation",
    "dont_know",
}


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def answers_onboarding(tracker: Tracker) -> bool:
    return latest_intent(tracker) in _ONBOARDING_ANSWERS


class ValidateOnboardingForm(FormValidationAction):
    def name(self) -> str:
        return "validate_onboarding_form"

    async def extract_interest(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "interest" or not answers_onboarding(tracker):
            return {}  # another topic: the rules answer it
        if latest_intent(tracker) == "dont_know":
            return {"interest": ANY_INTEREST}
        return {"interest": latest_entity(tracker, "product") or typed_answer(tracker)}

    async def extract_budget(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "budget" or not answers_onboarding(tracker):
            return {}
        if latest_intent(tracker) == "dont_know":
            return {"budget": NO_BUDGET}
        return {"budget": latest_entity(tracker, "amount") or typed_answer(tracker)}

    async def validate_interest(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if value == ANY_INTEREST:
            return {"interest": ANY_INTEREST}
        category = interest_category(str(value or ""))
        if category is None:
            dispatcher.utter_message(
                response="utter_interest_unknown",
                categories=", ".join(c for c in CATEGORIES if c != OTHER),
            )
        return {"interest": category}

    async def validate_budget(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if value == NO_BUDGET:
            return {"budget": NO_BUDGET}
        budget = parse_budget(value)
        if budget is None:
            dispatcher.utter_message(response="utter_budget_invalid")
        return {"budget": budget}


def in_onboarding(tracker: Tracker) -> bool:
    return (tracker.active_loop or {}).get("name") == "onboarding_form"


class ActionRecommendProducts(Action):
    def name(self) -> str:
        return ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # Asked for ideas in the middle of another form: the customer has changed course.
        events: list[EventType] = [] if in_onboarding(tracker) else leave_form(tracker, domain)
        customer_id = personal_customer(tracker)
        interest, budget = tracker.get_slot("interest"), tracker.get_slot("budget")
        ask = shopping_ask(tracker)
        onboarding = customer_id and tracker.get_slot("needs_onboarding") and not interest
        if onboarding and not (ask.refine or ask.said.category or ask.said.budget):
            # Two questions (what and how much), then back here; not when the request said.
            return [*events, FollowupAction("onboarding_form")]
        store = recommendation_store()
        if customer_id and interest:
            amount = float(budget) if isinstance(budget, (int, float)) and budget > 0 else None
            if interest != ANY_INTEREST:
                await store.save_taste(customer_id, interest, amount)
            events += [SlotSet("needs_onboarding", False)]
        if not ask.refine and not ask.said.states_constraints:
            return events + await self._personal_list(dispatcher, tracker, customer_id)
        return events + await self._requested_list(dispatcher, tracker, customer_id, ask)

    async def _personal_list(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str | None
    ) -> list[EventType]:
        """Nothing asked for: the personal list as it is (cached, model first); a previous
        request is forgotten, since a fresh ask replaces it."""
        store = recommendation_store()
        target = _target(tracker, customer_id)
        found = (await store.recommend(target, SHOWN)).value
        if not found or not found.items:
            dispatcher.utter_message(response="utter_recommendations_unavailable")
            return []
        personal = target == customer_id and found.personal
        response = "utter_recommendations" if personal else "utter_recommendations_popular"
        show_picks(dispatcher, tracker, found.items, response)
        return await _shown(tracker, customer_id, found.items, None)

    async def _requested_list(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer_id: str | None,
        ask: Ask,
    ) -> list[EventType]:
        """Picks that keep what was asked, with the reply saying what that was (and what was
        relaxed when nothing fitted)."""
        shown = [str(code) for code in tracker.get_slot("shown_products") or []]
        store = recommendation_store()
        target = _target(tracker, customer_id)
        found = (await store.recommend_for(target, ask, shown, SHOWN)).value
        if found is None:
            dispatcher.utter_message(response="utter_recommendations_unavailable")
            return []
        request = found.request.as_slot()
        if not found.items:
            dispatcher.utter_message(
                response="utter_recommendations_none_fit", wanted=found.request.describe()
            )
            return [SlotSet(REQUEST_SLOT, request)]
        wanted = found.request.budget
        within = [i for i in found.items if wanted and wanted.fits(float(i.get("unit_price") or 0))]
        if ask.said.cheaper and found.relaxed == "budget" and within:
            # Only picks shown before are cheaper: they are the answer, not a raised budget.
            found = replace(found, items=within, relaxed=None, kept=None)
        if ask.said.cheaper and found.relaxed == "budget":
            # "Cheaper" when nothing is: said plainly, never answered with a higher budget.
            lowest = sorted(found.items, key=lambda item: float(item.get("unit_price") or 0))
            before = ask.previous.budget if ask.previous is not None else None
            if before is not None:  # the budget the list just shown kept still holds
                lowest = [i for i in lowest if before.fits(float(i.get("unit_price") or 0))] or [
                    lowest[0]
                ]
            show_picks(
                dispatcher,
                tracker,
                lowest,
                "utter_recommendations_nothing_cheaper",
                wanted=found.request.without("budget").describe(),
                from_price=money(float(lowest[0].get("unit_price") or 0)),
            )
            return await _shown(tracker, customer_id, lowest, request)
        response, values = requested_reply(found, target == customer_id and found.personal)
        show_picks(dispatcher, tracker, found.items, response, **values)
        return await _shown(tracker, customer_id, found.items, request)


def _target(tracker: Tracker, customer_id: str | None) -> str:
    """Whose list to rank: the customer's, unless an experiment's arm serves them the
    shop's popular products (what a visitor gets)."""
    if customer_id and treatment(tracker).recommender == "model":
        return customer_id
    return f"visitor:{tracker.sender_id}"


async def _shown(
    tracker: Tracker,
    customer_id: str | None,
    items: list[dict[str, Any]],
    request: dict[str, Any] | None,
) -> list[EventType]:
    """Remember what is on screen, in order ("the second one" indexes it), and the request
    behind it; record the impressions for the recommender (only with consent)."""
    codes = [item["stock_code"] for item in items]
    if customer_id:
        store = recommendation_store()
        reasons = {item["stock_code"]: str(item.get("reason_kind") or "other") for item in items}
        await store.record(customer_id, "recommendation_shown", codes, tracker.sender_id, reasons)
    return [SlotSet("shown_products", codes), SlotSet(REQUEST_SLOT, request)]


class ActionProductChosen(Action):
    def name(self) -> str:
        return "action_product_chosen"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        code = latest_entity(tracker, "product")
        shown = tracker.get_slot("shown_products") or []
        customer_id = personal_customer(tracker)
        store = recommendation_store()
        found = await store.product(code) if code else None
        product = found.value if found is not None else None
        if product is None:
            unavailable = found is not None and found.is_unavailable
            dispatcher.utter_message(
                response="utter_store_unavailable" if unavailable else "utter_product_unknown"
            )
            return []
        if customer_id and code in shown:
            await store.record(customer_id, "recommendation_clicked", [code], tracker.sender_id)
        dispatcher.utter_message(
            response="utter_product_details",
            product=product["description"].title(),
            price=f"£{float(product['unit_price'] or 0):.2f}",
            category=product["category"] or "our range",
            stock_code=product["stock_code"],
        )
        return []
