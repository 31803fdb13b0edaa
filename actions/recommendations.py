"""Product recommendations with buttons; onboarding questions for a new customer first.

What was shown and what was clicked are recorded as interactions (only with consent), so the
recommender learns from the conversation too.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import personalization_client
from actions.conversation import latest_entity, personal_customer, typed_answer
from actions.payloads import intent_payload
from personalization.catalogue import CATEGORIES, OTHER
from personalization.recommender.service import Recommendations
from personalization.support.preferences import (
    find_product,
    interest_category,
    parse_budget,
    record_recommendations,
    save_taste,
)

SHOWN = 4
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


class ValidateOnboardingForm(FormValidationAction):
    def name(self) -> str:
        return "validate_onboarding_form"

    async def extract_interest(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "interest":
            return {}
        return {"interest": latest_entity(tracker, "product") or typed_answer(tracker)}

    async def extract_budget(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "budget":
            return {}
        return {"budget": latest_entity(tracker, "amount") or typed_answer(tracker)}

    async def validate_interest(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
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
        budget = parse_budget(value)
        if budget is None:
            dispatcher.utter_message(response="utter_budget_invalid")
        return {"budget": budget}


class ActionRecommendProducts(Action):
    def name(self) -> str:
        return "action_recommend_products"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = []
        customer_id = personal_customer(tracker)
        interest, budget = tracker.get_slot("interest"), tracker.get_slot("budget")
        if customer_id and tracker.get_slot("needs_onboarding") and not interest:
            return [FollowupAction("onboarding_form")]  # two questions, then back here
        if customer_id and interest:
            await personalization_client.call(
                "save preferences",
                lambda: _save(customer_id, interest, budget),
                None,
            )
            events += [SlotSet("needs_onboarding", False)]
        target = customer_id or f"visitor:{tracker.sender_id}"
        found: Recommendations | None = await personalization_client.call(
            "recommendations",
            lambda: personalization_client.recommendations().recommend(target, SHOWN),
            None,
        )
        if not found or not found.items:
            dispatcher.utter_message(response="utter_recommendations_unavailable")
            return events
        codes = [item["stock_code"] for item in found.items]
        personal = customer_id is not None and found.personal
        response = "utter_recommendations" if personal else "utter_recommendations_popular"
        if tracker.get_latest_input_channel() == CARD_CHANNEL:
            dispatcher.utter_message(response=response, json_message=product_cards(found.items))
        else:
            dispatcher.utter_message(
                response=response,
                buttons=[
                    {"title": f"{card_name(item)} ({price(item)})", "payload": choose(item)}
                    for item in found.items
                ],
            )
        if customer_id:
            await personalization_client.call(
                "record shown",
                lambda: record_recommendations(
                    personalization_client.database(),
                    customer_id,
                    "recommendation_shown",
                    codes,
                    tracker.sender_id,
                ),
                None,
            )
        return [*events, SlotSet("shown_products", codes)]


def _save(customer_id: str, interest: str, budget: Any) -> None:
    save_taste(
        personalization_client.database(),
        customer_id,
        [interest],
        float(budget) if isinstance(budget, (int, float)) else None,
    )
    cache = personalization_client.recommendation_cache()
    if cache is not None:
        cache.forget_customer(customer_id)


class ActionProductChosen(Action):
    def name(self) -> str:
        return "action_product_chosen"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        code = latest_entity(tracker, "product")
        shown = tracker.get_slot("shown_products") or []
        customer_id = personal_customer(tracker)
        product = (
            await personalization_client.call(
                "product", lambda: find_product(personalization_client.database(), code), None
            )
            if code
            else None
        )
        if product is None:
            dispatcher.utter_message(response="utter_product_unknown")
            return []
        if customer_id and code in shown:
            await personalization_client.call(
                "record click",
                lambda: record_recommendations(
                    personalization_client.database(),
                    customer_id,
                    "recommendation_clicked",
                    [code],
                    tracker.sender_id,
                ),
                None,
            )
        dispatcher.utter_message(
            response="utter_product_details",
            product=product["description"].title(),
            price=f"£{float(product['unit_price'] or 0):.2f}",
            category=product["category"] or "our range",
            stock_code=product["stock_code"],
        )
        return []
