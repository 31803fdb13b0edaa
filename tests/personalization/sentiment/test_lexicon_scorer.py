from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from personalization.sentiment import LexiconScorer, Mood
from personalization.sentiment.lexicon import support_features

pytestmark = pytest.mark.fast

# Support messages and how an agent reads them. Written for this test; they check our rules,
# they are not a benchmark (the evaluation uses human ratings, see README).
SUPPORT_MESSAGES = [
    ("still waiting for my refund, third time asking", "negative"),
    ("my parcel never arrived", "negative"),
    ("I was charged twice for the same order", "negative"),
    ("ordered three weeks ago and nothing yet", "negative"),
    ("the vase arrived broken", "negative"),
    ("no reply to my email from last week", "negative"),
    ("WHERE IS MY ORDER", "negative"),
    ("thanks, that sorted it", "positive"),
    ("it arrived safely, lovely packaging", "positive"),
    ("can I change my delivery address?", "neutral"),
]


def test_support_complaints_that_vader_misses_are_negative() -> None:
    ours = LexiconScorer()
    vader = SentimentIntensityAnalyzer()

    def vader_label(text: str) -> str:
        compound = vader.polarity_scores(text)["compound"]
        return "positive" if compound > 0.05 else "negative" if compound < -0.05 else "neutral"

    ours_right = sum(ours.score(t).label == want for t, want in SUPPORT_MESSAGES)
    vader_right = sum(vader_label(t) == want for t, want in SUPPORT_MESSAGES)
    assert ours_right == len(SUPPORT_MESSAGES)
    assert ours_right - vader_right >= 3, "the gap this lexicon exists for"


def test_escalation_needs_a_marker_and_a_service_noun() -> None:
    assert support_features("still no refund")[2] == 1.0
    assert support_features("the refund arrived")[2] == 0.0
    assert support_features("still lovely weather")[2] == 0.0


def test_scores_stay_in_range_and_empty_text_is_neutral() -> None:
    scorer = LexiconScorer()
    for text in ("", "!!!", "SCAM SCAM SCAM never again, fed up, waste of money", "love it " * 50):
        result = scorer.score(text)
        assert -1.0 <= result.score <= 1.0
    assert scorer.score("").label == "neutral"


@pytest.mark.parametrize(
    ("scores", "trend"),
    [
        ([0.2, 0.1, -0.4, -0.8], "worsening"),
        ([-0.8, -0.6, 0.3, 0.7], "improving"),
        ([0.1, 0.1, 0.12, 0.08], "steady"),
        ([-0.9], "steady"),
    ],
)
def test_mood_trend(scores: list[float], trend: str) -> None:
    mood = Mood()
    for value in scores:
        mood = mood.update(value)
    assert mood.trend == trend
    assert mood.messages == len(scores)


def test_mood_weighs_recent_messages_more() -> None:
    mood = Mood().update(1.0).update(1.0).update(-1.0)
    assert -0.1 < mood.value < 0.1, "one angry message halves a good mood"
    assert mood.update(-1.0).value < -0.4
