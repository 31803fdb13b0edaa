"""The sentiment component puts a score and label into every message's parse data."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.sentiment import SENTIMENT, SentimentAnalyzer
from personalization.sentiment.scorer import Sentiment


def test_every_message_carries_its_sentiment(graph_parts, tokenize, tmp_path: Path) -> None:
    analyzer = SentimentAnalyzer.create(
        {"model_path": str(tmp_path / "absent.joblib")}, *graph_parts
    )
    angry, happy = analyzer.process(
        tokenize("this is the third time I ask, still no refund!!", "lovely, thank you so much")
    )
    assert angry.get(SENTIMENT)["label"] == "negative" and angry.get(SENTIMENT)["score"] < 0
    assert happy.get(SENTIMENT)["label"] == "positive"
    assert angry.get(SENTIMENT)["scorer"] == "vader+support-lexicon", "no model: the lexicon"
    assert SENTIMENT in angry.as_dict(only_output_properties=True), "it reaches the parse data"


def test_a_failing_scorer_leaves_the_message_neutral(tokenize) -> None:
    class Broken:
        name = "broken"

        def score(self, text: str) -> Sentiment:
            raise RuntimeError("model crashed")

    (message,) = SentimentAnalyzer(Broken()).process(tokenize("hello"))
    assert message.get(SENTIMENT) == {
        "score": 0.0,
        "label": "neutral",
        "complaint": None,
        "upset": False,
        "mood_score": 0.0,
        "scorer": "broken",
    }


def test_a_flat_complaint_is_upset_through_the_complaint_detector(
    graph_parts, tokenize, tmp_path: Path
) -> None:
    from personalization.embeddings import shared_encoder
    from personalization.sentiment.complaint_training import train
    from personalization.sentiment.signals import COMPLAINT_SCORE
    from tests.personalization.sentiment.test_complaint_detector import small_set

    path = tmp_path / "complaint.joblib"
    detector = train(small_set(), shared_encoder(), folds=2, chat_data=None)
    texts = ["my parcel still has not arrived", "do you sell gift cards"]
    flat_p, question_p = detector.probabilities(texts)
    assert flat_p > question_p
    detector.threshold = float((flat_p + question_p) / 2)  # the two fall either side
    detector.save(path)
    analyzer = SentimentAnalyzer.create(
        {"model_path": str(tmp_path / "absent.joblib"), "complaint_model_path": str(path)},
        *graph_parts,
    )
    flat, question = analyzer.process(tokenize(*texts))
    reading = flat.get(SENTIMENT)
    assert reading["complaint"] == pytest.approx(flat_p, abs=1e-3)
    assert reading["upset"] is True and reading["mood_score"] <= COMPLAINT_SCORE
    assert reading["label"] != "negative" or reading["score"] < 0
    assert question.get(SENTIMENT)["upset"] is False
    assert "complaint" in flat.as_dict(only_output_properties=True)[SENTIMENT]


def test_without_a_complaint_model_the_mood_rests_on_sentiment(
    graph_parts, tokenize, tmp_path: Path
) -> None:
    analyzer = SentimentAnalyzer.create(
        {"model_path": str(tmp_path / "a.joblib"), "complaint_model_path": str(tmp_path / "b")},
        *graph_parts,
    )
    (message,) = analyzer.process(tokenize("this is awful, worst service ever"))
    reading = message.get(SENTIMENT)
    assert reading["complaint"] is None and reading["upset"] is True
    assert reading["mood_score"] == reading["score"] < 0
