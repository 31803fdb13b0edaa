"""Sentiment of every parsed message, from the library's scorer, in the parse data.

Each message gets ``sentiment: {"score": float in [-1, 1], "label": str, "scorer": str}`` in
its parse data, so actions read it from ``tracker.latest_message``. The trained scorer is
used when its model file loads (``SENTIMENT_MODEL_PATH``), the lexicon scorer otherwise; a
scoring failure leaves the message neutral rather than failing the parse. Placed after
MiniLmFeaturizer, it reuses that component's sentence vector instead of encoding again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.sentence_embeddings import SENTENCE_EMBEDDING
from personalization.sentiment import load_scorer
from personalization.sentiment.scorer import SentimentScorer, TrainedScorer

log = logging.getLogger(__name__)
SENTIMENT = "sentiment"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentimentAnalyzer(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"model_path": None}

    def __init__(self, scorer: SentimentScorer) -> None:
        self._scorer = scorer

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentimentAnalyzer:
        path = config.get("model_path")
        return cls(load_scorer(Path(path) if path else None))

    def _score(self, text: str, embedding: np.ndarray | None) -> dict[str, Any]:
        if embedding is not None and isinstance(self._scorer, TrainedScorer):
            scores, labels = self._scorer.predict([text], embedding[None, :])
            return {"score": round(float(scores[0]), 4), "label": labels[0]}
        result = self._scorer.score(text)
        return {"score": result.score, "label": result.label}

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # nothing downstream learns from sentiment

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            try:
                value = self._score(text, message.get(SENTENCE_EMBEDDING))
            except Exception as exc:  # a parse must never fail because of sentiment
                log.warning("sentiment unavailable for this message: %s", type(exc).__name__)
                value = {"score": 0.0, "label": "neutral"}
            message.set(SENTIMENT, {**value, "scorer": self._scorer.name}, add_to_output=True)
        return messages
