"""One message's reading for the conversation's mood, from sentiment and complaint together.

Sentiment alone misses flat complaints ("still no refund", "order never arrived"); the
complaint detector alone misses anger without a grievance ("this is ridiculous"). A message
is upset when either says so. Its score for the mood is the sentiment score, held at
``COMPLAINT_SCORE`` or below when it is a complaint: a flat complaint then moves the mood as
a plainly negative message does, and an angry one keeps its full weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# About the score of a message the sentiment scorer labels negative, and below the mood at
# which the bot apologises and offers a person (escalation.NEGATIVE_MOOD, -0.3).
COMPLAINT_SCORE = -0.45


@dataclass(frozen=True)
class MessageMood:
    score: float  # what the conversation's mood averages, in [-1, 1]
    upset: bool
    complaint: bool


def read_message(
    sentiment_score: float, sentiment_label: str, complaint: float | None, threshold: float
) -> MessageMood:
    """``complaint`` is the detector's probability, or None when there is no detector. A
    score that is not a number reads as neutral."""
    if not math.isfinite(sentiment_score):
        sentiment_score = 0.0
    is_complaint = complaint is not None and math.isfinite(complaint) and complaint >= threshold
    score = min(sentiment_score, COMPLAINT_SCORE) if is_complaint else sentiment_score
    return MessageMood(
        score=round(max(-1.0, min(1.0, score)), 4),
        upset=is_complaint or sentiment_label == "negative",
        complaint=is_complaint,
    )
