"""Message sentiment for support conversations, and the customer's mood over a conversation."""

from personalization.sentiment.mood import Mood
from personalization.sentiment.scorer import (
    LexiconScorer,
    Sentiment,
    SentimentScorer,
    TrainedScorer,
    label_for,
    load_scorer,
)

__all__ = [
    "LexiconScorer",
    "Mood",
    "Sentiment",
    "SentimentScorer",
    "TrainedScorer",
    "label_for",
    "load_scorer",
]
