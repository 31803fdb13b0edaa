"""What a customer reads when they ask for help: the article's title once, its excerpt, a link
with the article's title, related articles as buttons that ask for them by id, and no "did
it help?" in the middle of a form. Against an in-process article store (no database)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import personalization_client
from actions.gateways.articles import Suggestion, article_store
from actions.help_articles import ActionSuggestArticles
from actions.outcome import Outcome
from personalization.help_center import HelpArticle, load_articles
from personalization.recommender.articles import ArticleSuggestion
from tests.actions.conftest import ActionResult, journey_tracker, responses, run_action, slot_events
from tests.actions.fakes import FakeArticles

pytestmark = pytest.mark.fast

ARTICLES = {a.id: a for a in load_articles()}
DELIVERY = ARTICLES["delivery-times"]
LATE = ARTICLES["late-parcel"]
HELP_CENTRE = "https://shop.test/help"


def related(article: HelpArticle) -> ArticleSuggestion:
    return ArticleSuggestion(article.id, article.title, 0.4, 0.4, 0, 0)


@pytest.fixture
def articles(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeArticles]:
    """The article store replaced; the real store door closed, so a call reaching it fails."""

    async def no_store(operation: str, work: Any) -> Outcome[Any]:
        raise AssertionError(f"{operation} reached the real store")

    monkeypatch.setattr(personalization_client, "run", no_store)
    monkeypatch.setenv("HELP_CENTER_URL", HELP_CENTRE)
    fake = FakeArticles(
        suggestion=Outcome.success(
            Suggestion(DELIVERY, [related(LATE), related(ARTICLES["track-my-order"])])
        ),
        articles=dict(ARTICLES),
    )
    with article_store.replaced(fake):
        yield fake


def said(result: ActionResult, domain: dict[str, Any]) -> list[str]:
    """Each message's text as the customer reads it: the domain's response, filled in."""
    texts = []
    for message in result.messages:
        [variant] = domain["responses"][message["response"]]
        values = {k: v for k, v in message.items() if isinstance(v, str)}
        texts.append(variant["text"].format(**values))
    return texts


def clicked(article_id: str) -> Tracker:
    """A related-article button clicked: Rasa parses its payload to the intent and entity."""
    payload = f"/ask_help{json.dumps({'article': article_id}, separators=(',', ':'))}"
    return journey_tracker(
        payload, "ask_help", [{"entity": "article", "value": article_id}], article=article_id
    )


def in_form(tracker: Tracker, form: str = "order_status_form") -> Tracker:
    tracker.active_loop = {"name": form}
    return tracker


def test_the_answer_shows_the_title_once_a_titled_link_and_related_buttons(
    articles: FakeArticles, domain: dict[str, Any]
) -> None:
    result = run_action(
        ActionSuggestArticles(), journey_tracker("how long does delivery take?", "ask_help"), domain
    )
    assert responses(result) == [
        "utter_article",
        "utter_article_link",
        "utter_related_articles",
        "utter_ask_article_helpful",
    ]
    article, link, related_text, question = said(result, domain)
    assert article.startswith(
        "**How long does delivery take?**\n"
        "Orders placed before 2 pm (UK time) on a working day leave our warehouse the same day;"
    )
    assert article.count("How long does delivery take?") == 1
    assert "\n- UK standard: 3–5 working days, free on orders over £40" in article
    assert "\n- Rest of the world: 7–14 working days" in article
    assert "•" not in article and "**UK" not in article
    assert link == f"Read more: [How long does delivery take?]({HELP_CENTRE}/delivery-times)"
    assert related_text == "Related articles:"
    assert result.messages[2]["buttons"] == [
        {"title": "My parcel is late", "payload": '/ask_help{"article":"late-parcel"}'},
        {"title": "Tracking your parcel", "payload": '/ask_help{"article":"track-my-order"}'},
    ]
    assert question == "Did that answer your question?"
    assert slot_events(result) == {
        "pending_question": "article",
        "suggested_article": "delivery-times",
    }
    assert articles.questions == ["how long does delivery take?"] and articles.ids_asked == []


def test_without_a_help_centre_address_there_is_no_link(
    articles: FakeArticles, domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELP_CENTER_URL", "")
    result = run_action(ActionSuggestArticles(), journey_tracker("delivery?", "ask_help"), domain)
    assert "utter_article_link" not in responses(result)


def test_a_related_article_button_answers_that_article_directly(
    articles: FakeArticles, domain: dict[str, Any]
) -> None:
    result = run_action(ActionSuggestArticles(), clicked("late-parcel"), domain)
    assert articles.ids_asked == ["late-parcel"]
    assert articles.questions == [], "no search: the customer chose the article"
    assert responses(result) == [
        "utter_article",
        "utter_article_link",
        "utter_ask_article_helpful",
    ]
    article, link, _ = said(result, domain)
    assert article.startswith(
        "**My parcel is late**\n"
        "If your parcel has not arrived by the end of the delivery estimate:\n"
        "1. Check the tracking link"
    )
    assert link == f"Read more: [My parcel is late]({HELP_CENTRE}/late-parcel)"
    assert slot_events(result) == {
        "article": None,
        "pending_question": "article",
        "suggested_article": "late-parcel",
    }


@pytest.mark.parametrize(
    ("asked", "looked_up", "searched"),
    [
        ("delivery-time", ["delivery-time"], "delivery time"),  # renamed: not in the store
        ("../../etc/passwd", [], "etc passwd"),  # never a valid id: not even looked up
        ("X" * 200, [], "X" * 80),
    ],
    ids=["unknown", "refused", "too long"],
)
def test_an_unknown_or_refused_article_id_gets_the_normal_search(
    articles: FakeArticles, domain: dict[str, Any], asked: str, looked_up: list[str], searched: str
) -> None:
    result = run_action(ActionSuggestArticles(), clicked(asked), domain)
    assert articles.ids_asked == looked_up
    assert articles.questions == [searched]
    assert responses(result)[0] == "utter_article"
    assert result.messages[0]["title"] == "How long does delivery take?"
    assert slot_events(result)["article"] is None


def test_a_typed_question_with_an_unknown_article_entity_searches_the_words(
    articles: FakeArticles, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker(
        "how long is delivery", "ask_help", [{"entity": "article", "value": "nope"}]
    )
    run_action(ActionSuggestArticles(), tracker, domain)
    assert articles.questions == ["how long is delivery"]


def test_the_store_down_while_fetching_a_chosen_article_is_said(
    articles: FakeArticles, domain: dict[str, Any]
) -> None:
    articles.reachable = False
    result = run_action(ActionSuggestArticles(), clicked("late-parcel"), domain)
    assert responses(result) == ["utter_store_unavailable_articles", "utter_offer_human"]
    assert articles.questions == []


def test_inside_a_form_the_answer_asks_nothing_back(
    articles: FakeArticles, domain: dict[str, Any]
) -> None:
    tracker = in_form(journey_tracker("how long does delivery take?", "ask_help"))
    result = run_action(ActionSuggestArticles(), tracker, domain)
    assert responses(result) == ["utter_article", "utter_article_link", "utter_related_articles"]
    assert "pending_question" not in slot_events(result), "the form's question comes next"

    chosen = run_action(ActionSuggestArticles(), in_form(clicked("late-parcel")), domain)
    assert responses(chosen) == ["utter_article", "utter_article_link"]
    assert slot_events(chosen) == {"article": None}


def test_inside_a_form_no_article_is_said_without_offering_a_person(
    articles: FakeArticles, domain: dict[str, Any]
) -> None:
    articles.suggestion = Outcome.refused("no relevant article")
    tracker = in_form(journey_tracker("qwerty", "ask_help"), "return_form")
    result = run_action(ActionSuggestArticles(), tracker, domain)
    assert responses(result) == ["utter_no_article"]
    assert slot_events(result) == {}
    outside = run_action(ActionSuggestArticles(), journey_tracker("qwerty", "ask_help"), domain)
    assert responses(outside) == ["utter_no_article", "utter_offer_human"]
