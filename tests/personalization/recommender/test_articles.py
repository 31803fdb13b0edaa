"""Help-article suggestions: relevance to the text, steered by similar customers' votes."""

from __future__ import annotations

import pytest

from personalization.embeddings import shared_encoder
from personalization.help_center import HelpArticleRepository, load_articles
from personalization.recommender.articles import ArticleRecommender, record_article_feedback
from personalization.store import Database


@pytest.fixture
def help_centre(shop: Database) -> Database:
    HelpArticleRepository(shop).upsert(load_articles())
    return shop


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("my parcel is late, it should have arrived two days ago", "late-parcel"),
        ("how do I get a VAT invoice for my company", "invoice-vat"),
        ("I want you to delete all my personal data", "privacy-erasure"),
        ("the mug arrived broken", "damaged-item"),
    ],
)
def test_the_article_that_answers_the_question_comes_first(
    help_centre: Database, question: str, article: str
) -> None:
    found = ArticleRecommender(help_centre, shared_encoder()).recommend(question, n=3)
    assert found[0].id == article, [s.id for s in found]


def test_paraphrases_need_the_encoder_and_plain_words_do_not(help_centre: Database) -> None:
    lexical = ArticleRecommender(help_centre)  # no encoder: TF-IDF only, still works
    assert lexical.recommend("Klarna instalments", n=1)[0].id == "klarna-pay-later"
    assert lexical.recommend("   ") == []
    assert lexical.recommend("zzzz qqqq") == [], "nothing relevant, nothing suggested"


def test_votes_of_the_same_segment_reorder_close_candidates(help_centre: Database) -> None:
    recommender = ArticleRecommender(help_centre)
    question = "return refund"
    before = [s.id for s in recommender.recommend(question, customer_id="cust-0001", n=5)]
    runner_up = before[1]
    with help_centre.cursor() as cur:
        cur.execute("SELECT segment FROM segment_assignments WHERE customer_id = 'cust-0001'")
        segment = cur.fetchone()["segment"]
        cur.execute(
            "SELECT customer_id FROM segment_assignments WHERE segment = %s AND "
            "customer_id <> 'cust-0001' LIMIT 3",
            (segment,),
        )
        peers = [r["customer_id"] for r in cur.fetchall()]
    assert peers, "the fixture shop has several customers per segment"
    for round_ in range(4):
        for peer in peers:
            record_article_feedback(help_centre, peer, runner_up, True, f"c-{peer}-{round_}")
            record_article_feedback(help_centre, peer, before[0], False, f"c-{peer}-{round_}")
    after = recommender.recommend(question, customer_id="cust-0001", n=5)
    assert after[0].id == runner_up and after[0].helpful_votes == 4 * len(peers)
    former_top = next(s for s in after if s.id == before[0])
    assert after[0].relevance < former_top.relevance, "votes, not text, moved it up"
    unrelated = recommender.recommend("Klarna instalments", customer_id="cust-0001", n=3)
    assert runner_up not in [s.id for s in unrelated][:1], "votes never make an article relevant"
