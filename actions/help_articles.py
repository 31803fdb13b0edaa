"""Help articles and FAQ: the best matching articles for this question and this customer, then
"did it help?", whose answer steers future suggestions for similar customers.

Answers are in the Markdown every channel can show (``personalization.chat_markdown``): the
web chat renders it, Slack gets it as mrkdwn, REST clients as it is. Related articles are
buttons that ask for an article by id; inside a form, the answer asks nothing back, because
the form asks its own question right after."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import latest_entity, personal_customer
from actions.feedback import THUMBS, store_feedback
from actions.gateways.articles import article_store
from actions.handoff import offer_human
from actions.outcome import Outcome
from actions.payloads import intent_payload
from personalization import chat_markdown
from personalization.help_center import HelpArticle, article_url, excerpt, valid_article_id
from personalization.recommender.articles import ArticleSuggestion

ARTICLE = "article"  # the entity and slot of a related-article button
_NOT_WORDS = re.compile(r"[^A-Za-z0-9]+")


def article_button(article: ArticleSuggestion) -> dict[str, str]:
    """A related article as a button that asks for it by id (``ask_help`` + ``article``)."""
    return {"title": article.title, "payload": intent_payload("ask_help", article=article.id)}


def in_form(tracker: Tracker) -> bool:
    """A form is waiting for its next answer: it asks again right after a side answer, so a
    question of ours would go unanswered."""
    return bool((tracker.active_loop or {}).get("name"))


def search_text(tracker: Tracker, asked_id: str | None) -> str:
    """What to search for: the customer's words, or for a button whose article is gone, the
    words of its id ("delivery-times" → "delivery times"), never the payload itself."""
    text = tracker.latest_message.get("text") or ""
    if asked_id is not None and (not text.strip() or text.lstrip().startswith("/")):
        return _NOT_WORDS.sub(" ", asked_id[:80]).strip()
    return text


class ActionSuggestArticles(Action):
    def name(self) -> str:
        return "action_suggest_articles"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        asked_id = latest_entity(tracker, ARTICLE)
        events: list[EventType] = [SlotSet(ARTICLE, None)] if asked_id is not None else []
        asking = not in_form(tracker)
        chosen: Outcome[HelpArticle] = Outcome.refused("no article asked for")
        if valid_article_id(asked_id):
            chosen = await article_store().article(str(asked_id))
        if chosen.value is not None:
            return events + answer(dispatcher, chosen.value, [], asking)
        if chosen.is_unavailable:
            return events + store_unavailable(dispatcher, asking)
        found = await article_store().suggest(
            search_text(tracker, asked_id), personal_customer(tracker)
        )
        if found.value is None:
            # An outage is said as one: "no article" would tell them there is no help.
            if found.is_unavailable:
                return events + store_unavailable(dispatcher, asking)
            dispatcher.utter_message(response="utter_no_article")
            return events + (offer_human(dispatcher, "customer_request") if asking else [])
        return events + answer(dispatcher, found.value.best, found.value.related, asking)


def store_unavailable(dispatcher: CollectingDispatcher, asking: bool) -> list[EventType]:
    dispatcher.utter_message(response="utter_store_unavailable_articles")
    return offer_human(dispatcher, "customer_request") if asking else []


def answer(
    dispatcher: CollectingDispatcher,
    article: HelpArticle,
    related: list[ArticleSuggestion],
    asking: bool,
) -> list[EventType]:
    """The article (title once, then the excerpt), a titled link to the whole of it, the
    related articles as buttons, and "did it help?" unless a form is about to ask its own."""
    title = chat_markdown.inline(article.title)  # inside ** and [ ]: no marks of its own
    dispatcher.utter_message(
        response="utter_article", title=title, excerpt=excerpt(article.body, article.title)
    )
    link = article_url(article.id)
    if link:
        dispatcher.utter_message(
            response="utter_article_link", title=chat_markdown.link_text(title), link=link
        )
    if related:
        dispatcher.utter_message(
            response="utter_related_articles", buttons=[article_button(a) for a in related]
        )
    if not asking:
        return []
    dispatcher.utter_message(response="utter_ask_article_helpful", buttons=THUMBS)
    return [SlotSet("pending_question", "article"), SlotSet("suggested_article", article.id)]


async def article_feedback(
    dispatcher: CollectingDispatcher, tracker: Tracker, helpful: bool
) -> list[EventType]:
    article_id = tracker.get_slot("suggested_article")
    customer_id = personal_customer(tracker)
    if customer_id and article_id:
        await article_store().record_feedback(customer_id, article_id, helpful, tracker.sender_id)
    await store_feedback(tracker, "thumbs", 1 if helpful else -1)
    events: list[EventType] = [SlotSet("suggested_article", None)]
    if helpful:
        dispatcher.utter_message(response="utter_glad_it_helped")
        return [*events, SlotSet("pending_question", None)]
    dispatcher.utter_message(response="utter_sorry_not_helpful")
    return events + offer_human(dispatcher, "customer_request")
