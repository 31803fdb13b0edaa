"""Help-article suggestions: what the conversation is about, and what helped similar customers.

Relevance is the cosine similarity of the conversation text to each article, from TF-IDF
(exact words: "Klarna", "VAT") averaged with MiniLM sentence embeddings (paraphrases: "my
parcel never came" for "late parcel") when the encoder is available. Relevance is then
scaled by how helpful customers of the same segment rated the article: from ×0.5 for an
article they keep rejecting to ×1.5 for one they keep praising, shrunk towards ×1 while
there are few votes. Scaling (not adding) keeps an irrelevant article irrelevant however
popular it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from personalization.embeddings import SentenceEncoder
from personalization.help_center import HelpArticle, HelpArticleRepository
from personalization.store import Database

log = logging.getLogger(__name__)

VOTES_FOR_FULL_CONFIDENCE = 5
LEXICAL_WEIGHT = 0.25


@dataclass(frozen=True)
class ArticleSuggestion:
    id: str
    title: str
    score: float
    relevance: float
    helpful_votes: int
    votes: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class TextIndex:
    """Article relevance for a text; lexical, and semantic when an encoder is given."""

    def __init__(self, articles: list[HelpArticle], encoder: SentenceEncoder | None = None):
        self.articles = articles
        self._tfidf = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, stop_words="english", min_df=1
        )
        texts = [a.text for a in articles]
        self._article_terms = self._tfidf.fit_transform(texts)
        self._encoder = encoder
        self._article_vectors = _normalise(encoder.encode(texts)) if encoder else None

    def relevance(self, text: str) -> np.ndarray:
        lexical = (self._article_terms @ self._tfidf.transform([text]).T).toarray().ravel()
        if self._encoder is None or self._article_vectors is None:
            return lexical
        semantic = self._article_vectors @ _normalise(self._encoder.encode([text]))[0]
        return LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * np.clip(semantic, 0.0, 1.0)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class ArticleRecommender:
    def __init__(self, db: Database, encoder: SentenceEncoder | None = None) -> None:
        self._db = db
        self._encoder = encoder
        self._index: TextIndex | None = None
        self._index_signature: tuple[Any, ...] | None = None

    def _current_index(self) -> TextIndex:
        with self._db.cursor() as cur:
            cur.execute("SELECT count(*) AS n, max(updated_at) AS changed FROM help_articles")
            row = cur.fetchone()
        signature = (row["n"], row["changed"])
        if self._index is None or signature != self._index_signature:
            articles = HelpArticleRepository(self._db).all()
            self._index = TextIndex(articles, self._encoder) if articles else None
            self._index_signature = signature
        if self._index is None:
            raise LookupError("there are no help articles")
        return self._index

    def recommend(
        self, text: str, customer_id: str | None = None, n: int = 3
    ) -> list[ArticleSuggestion]:
        """The n most useful articles for the text; empty if none is relevant at all."""
        if not text.strip():
            return []
        index = self._current_index()
        relevance = index.relevance(text)
        votes = self._votes(customer_id)
        suggestions = []
        for article, rel in zip(index.articles, relevance, strict=True):
            if rel <= 0:
                continue
            helpful, total = votes.get(article.id, (0, 0))
            rate = (helpful + 1) / (total + 2)
            confidence = total / (total + VOTES_FOR_FULL_CONFIDENCE)
            score = float(rel) * (1 + (rate - 0.5) * confidence)
            suggestions.append(
                ArticleSuggestion(article.id, article.title, score, float(rel), helpful, total)
            )
        suggestions.sort(key=lambda s: (-s.score, s.id))
        return suggestions[:n]

    def _votes(self, customer_id: str | None) -> dict[str, tuple[int, int]]:
        """Helpful and total votes per article from customers in the same segment (or all)."""
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT i.item_id,
                          count(*) FILTER (WHERE i.context->>'helpful' = 'true') AS helpful,
                          count(*) AS votes
                   FROM interactions i
                   LEFT JOIN segment_assignments s ON s.customer_id = i.customer_id
                   WHERE i.kind = 'article_opened' AND i.context ? 'helpful'
                     AND (s.segment IS NOT DISTINCT FROM
                          (SELECT segment FROM segment_assignments WHERE customer_id = %(c)s)
                          OR NOT EXISTS (SELECT 1 FROM segment_assignments
                                         WHERE customer_id = %(c)s))
                   GROUP BY i.item_id""",
                {"c": customer_id},
            )
            return {r["item_id"]: (r["helpful"], r["votes"]) for r in cur.fetchall()}


def record_article_feedback(
    db: Database, customer_id: str, article_id: str, helpful: bool, conversation_id: str
) -> None:
    """Remember whether an article helped; it steers suggestions for similar customers."""
    with db.cursor() as cur:
        cur.execute(
            """INSERT INTO interactions (customer_id, kind, item_id, context)
               VALUES (%s, 'article_opened', %s, jsonb_build_object('helpful', %s,
                       'conversation_id', %s::text))""",
            (customer_id, article_id, helpful, conversation_id),
        )
