"""The sentiment component puts a score and label into every message's parse data."""

from __future__ import annotations

from pathlib import Path

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
    assert message.get(SENTIMENT) == {"score": 0.0, "label": "neutral", "scorer": "broken"}
