"""The trained scorer on the real MiniLM weights from the pip package, fitted to tiny data."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from personalization.embeddings import SentenceEncoder, shared_encoder
from personalization.sentiment import LexiconScorer, TrainedScorer, load_scorer
from personalization.sentiment.training import RatedTexts, evaluate, fit, train

POSITIVE = [
    "I love it",
    "wonderful service, thank you",
    "brilliant, arrived early",
    "great quality and lovely packaging",
    "so happy with my order",
    "fantastic help",
]
NEGATIVE = [
    "this is awful",
    "terrible service, never again",
    "it broke after a day",
    "still waiting for my refund",
    "worst shop ever",
    "rude and unhelpful staff",
]
NEUTRAL = [
    "my order number is 5123",
    "I ordered a lamp",
    "what time do you open",
    "the parcel is blue",
    "I live in Leeds",
    "please send the invoice",
]


def rated(name: str, scale: float = 1.0) -> RatedTexts:
    texts = POSITIVE + NEGATIVE + NEUTRAL
    ratings = np.array([2.5 * scale] * 6 + [-2.5 * scale] * 6 + [0.0] * 6)
    return RatedTexts(name, texts, ratings)


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return shared_encoder()


def test_the_packaged_minilm_loads_and_embeds_meaningfully(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(
        ["where is my refund", "I am still waiting for my refund", "the cat sat on the mat"]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_batches_give_the_same_vectors_as_single_messages(encoder: SentenceEncoder) -> None:
    texts = ["short", "a much longer message about a parcel that never arrived at all"]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_length_ordered_batches_keep_each_text_in_its_place(encoder: SentenceEncoder) -> None:
    texts = [" ".join(["parcel"] * n) for n in (9, 1, 0, 5, 3, 12, 2)]
    batched = encoder.encode(texts, batch_size=3)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert batched.shape == (7, 384)
    assert np.allclose(batched, alone, atol=1e-4)
    assert encoder.encode([]).shape == (0, 384)


def test_a_fitted_scorer_separates_unseen_messages(encoder: SentenceEncoder) -> None:
    scorer = train([rated("a"), rated("b", 1.2)], encoder)
    results = scorer.score_many(["absolutely love this, thank you!", "awful, broken and late"])
    assert [r.label for r in results] == ["positive", "negative"]
    assert results[0].score > 0.2 > -0.2 > results[1].score


def test_save_and_load_round_trip(encoder: SentenceEncoder, tmp_path: Path) -> None:
    scorer = train([rated("a")], encoder)
    path = tmp_path / "sentiment" / "model.joblib"
    scorer.save(path)
    loaded = load_scorer(path)
    assert isinstance(loaded, TrainedScorer)
    assert loaded.score("I love it").score == pytest.approx(scorer.score("I love it").score)
    assert (path.with_suffix(".json")).is_file()


def test_a_missing_or_broken_model_degrades_to_the_lexicon(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert isinstance(load_scorer(tmp_path / "absent.joblib"), LexiconScorer)
        broken = tmp_path / "broken.joblib"
        broken.write_bytes(b"not a model")
        assert isinstance(load_scorer(broken), LexiconScorer)
    assert "no sentiment model" in caplog.text and "unusable" in caplog.text


def test_leave_one_set_out_evaluation_reports_every_figure(encoder: SentenceEncoder) -> None:
    rows = evaluate([rated("a"), rated("b", 1.1), rated("c", 0.9)], encoder)
    assert [r["set"] for r in rows] == ["a", "b", "c"]
    for row in rows:
        assert row["texts"] == 18
        for key in ("vader_macro_f1", "lexicon_macro_f1", "ours_macro_f1"):
            assert 0.0 <= row[key] <= 1.0
        assert row["ours_pearson_r"] > 0.5


def test_fit_learns_three_classes() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(90, 5))
    signal = features @ np.array([1.0, -2.0, 0.5, 0.0, 0.0])
    labels = ["negative" if v < -0.7 else "positive" if v > 0.7 else "neutral" for v in signal]
    assert fit(features, labels).score(features, labels) > 0.85
