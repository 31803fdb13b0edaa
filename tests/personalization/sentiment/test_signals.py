"""Sentiment and complaint read together: what the mood averages and when a message is upset."""

from __future__ import annotations

import pytest

from personalization.sentiment.signals import COMPLAINT_SCORE, read_message
from personalization.support.escalation import NEGATIVE_MOOD

pytestmark = pytest.mark.fast


def test_a_flat_complaint_counts_as_an_unhappy_message() -> None:
    reading = read_message(0.0, "neutral", complaint=0.8, threshold=0.3)
    assert reading.upset and reading.complaint
    assert reading.score == COMPLAINT_SCORE
    assert reading.score < NEGATIVE_MOOD, "one complaint alone reaches the upset mood"


def test_an_angry_complaint_keeps_its_own_stronger_score() -> None:
    assert read_message(-0.9, "negative", complaint=0.9, threshold=0.3).score == -0.9


def test_anger_without_a_grievance_is_upset_through_sentiment() -> None:
    reading = read_message(-0.6, "negative", complaint=0.1, threshold=0.3)
    assert reading.upset and not reading.complaint and reading.score == -0.6


def test_below_the_threshold_or_without_a_detector_sentiment_decides() -> None:
    assert read_message(0.4, "positive", complaint=0.29, threshold=0.3).score == 0.4
    without = read_message(0.1, "neutral", complaint=None, threshold=0.3)
    assert not without.upset and without.score == 0.1


def test_a_score_that_is_not_a_number_reads_as_neutral() -> None:
    reading = read_message(float("nan"), "positive", complaint=float("nan"), threshold=0.3)
    assert reading.score == 0.0 and not reading.complaint
