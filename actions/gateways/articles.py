"""Help articles for a question, and whether one helped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.help_center import HelpArticle, HelpArticleRepository
from personalization.recommender.articles import ArticleSuggestion, record_article_feedback


@dataclass(frozen=True)
class Suggestion:
    best: HelpArticle
    related: list[ArticleSuggestion]


class Articles(Protocol):
    async def suggest(self, question: str, customer_id: str | None) -> Outcome[Suggestion]:
        """The best article and up to two related; refused when none is relevant."""
        ...

    async def article(self, article_id: str) -> Outcome[HelpArticle]:
        """The article with this id; refused when there is none."""
        ...

    async def record_feedback(
        self, customer_id: str, article_id: str, helpful: bool, conversation_id: str
    ) -> Outcome[None]: ...


class StoreArticles:
    async def suggest(self, question: str, customer_id: str | None) -> Outcome[Suggestion]:
        def work() -> Suggestion | None:
            found = client.articles().recommend(question, customer_id, n=3)
            if not found:
                return None
            best = HelpArticleRepository(client.database()).get(found[0].id)
            return Suggestion(best, found[1:]) if best is not None else None

        outcome = await client.run("help articles", work)
        return outcome.found("no relevant article")

    async def article(self, article_id: str) -> Outcome[HelpArticle]:
        outcome = await client.run(
            "help article",
            lambda: HelpArticleRepository(client.database()).get(article_id),
        )
        return outcome.found("no such article")

    async def record_feedback(
        self, customer_id: str, article_id: str, helpful: bool, conversation_id: str
    ) -> Outcome[None]:
        return await client.run(
            "article feedback",
            lambda: record_article_feedback(
                client.database(), customer_id, article_id, helpful, conversation_id
            ),
        )


article_store: Provider[Articles] = Provider(StoreArticles)
