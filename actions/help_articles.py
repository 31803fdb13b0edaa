"""Help articles and FAQ: the best matching articles for this question and this customer, then
"did it help?", whose answer steers future suggestions for similar customers."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import personalization_client
from actions.conversation import personal_customer
from actions.feedback import THUMBS, store_feedback
from actions.handoff import offer_human
from personalization.help_center import HelpArticleRepository, article_url, excerpt
from personalization.recommender.articles import record_article_feedback


class ActionSuggestArticles(Action):
    def name(self) -> str:
        return "action_suggest_articles"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        question = tracker.latest_message.get("text") or ""
        customer_id = personal_customer(tracker)

        def work() -> tuple[Any, list[Any]] | None:
            found = personalization_client.articles().recommend(question, customer_id, n=3)
            if not found:
                return None
            best = HelpArticleRepository(personalization_client.database()).get(found[0].id)
            return best, found[1:]

        answer = await personalization_client.call("help articles", work, None)
        if answer is None or answer[0] is None:
            dispatcher.utter_message(response="utter_no_article")
            return offer_human(dispatcher, "customer_request")
        best, others = answer
        dispatcher.utter_message(
            response="utter_article", title=best.title, excerpt=excerpt(best.body)
        )
        link = article_url(best.id)
        if link:
            dispatcher.utter_message(response="utter_article_link", link=link)
        if others:
            dispatcher.utter_message(
                response="utter_related_articles", titles="; ".join(a.title for a in others)
            )
        dispatcher.utter_message(response="utter_ask_article_helpful", buttons=THUMBS)
        return [SlotSet("pending_question", "article"), SlotSet("suggested_article", best.id)]


async def article_feedback(
    dispatcher: CollectingDispatcher, tracker: Tracker, helpful: bool
) -> list[EventType]:
    article_id = tracker.get_slot("suggested_article")
    customer_id = personal_customer(tracker)
    if customer_id and article_id:
        await personalization_client.call(
            "article feedback",
            lambda: record_article_feedback(
                personalization_client.database(),
                customer_id,
                article_id,
                helpful,
                tracker.sender_id,
            ),
            None,
        )
    await store_feedback(tracker, "thumbs", 1 if helpful else -1)
    events: list[EventType] = [SlotSet("suggested_article", None)]
    if helpful:
        dispatcher.utter_message(response="utter_glad_it_helped")
        return [*events, SlotSet("pending_question", None)]
    dispatcher.utter_message(response="utter_sorry_not_helpful")
    return events + offer_human(dispatcher, "customer_request")
