"""Sentiment of every parsed message, from the library's scorer, in the parse data.

Each message gets ``sentiment`` in its parse data, so actions read it from
``tracker.latest_message``:

- ``score`` (in [-1, 1]), ``label`` and ``scorer``: the sentiment scorer's reading. The
  trained scorer is used when its model file loads (``SENTIMENT_MODEL_PATH``), the lexicon
  scorer otherwise;
- ``complaint``: the complaint detector's probability (None without its model,
  ``COMPLAINT_MODEL_PATH``);
- ``upset`` and ``mood_score``: both signals read together (personalization.sentiment.
  signals); the conversation's mood averages ``mood_score``.

A scoring failure leaves the message neutral rather than failing the parse. Placed after
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
from personalization.sentiment.complaint import ComplaintDetector, load_detector
from personalization.sentiment.scorer import SentimentScorer, TrainedScorer
from personalization.sentiment.signals import read_message

log = logging.getLogger(__name__)
SENTIMENT = "sentiment"
NEUTRAL = {"score": 0.0, "label": "neutral", "complaint": None, "upset": False, "mood_score": 0.0}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentimentAnalyzer(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"model_path": None, "complaint_model_path": None}

    def __init__(self, scorer: SentimentScorer, detector: ComplaintDetector | None = None) -> None:
        self._scorer = scorer
        self._detector = detector

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentimentAnalyzer:
        path, complaint_path = config.get("model_path"), config.get("complaint_model_path")
        return cls(
            load_scorer(Path(path) if path else None),
            load_detector(Path(complaint_path) if complaint_path else None),
        )

    def _score(self, text: str, embedding: np.ndarray | None) -> dict[str, Any]:
        if embedding is not None and isinstance(self._scorer, TrainedScorer):
            scores, labels = self._scorer.predict([text], embedding[None, :])
            return {"score": round(float(scores[0]), 4), "label": labels[0]}
        result = self._scorer.score(text)
        return {"score": result.score, "label": result.label}

    def _complaint(self, text: str, embedding: np.ndarray | None) -> float | None:
        if self._detector is None:
            return None
        vectors = None if embedding is None else embedding[None, :]
        return round(float(self._detector.probabilities([text], vectors)[0]), 4)

    def _read(self, text: str, embedding: np.ndarray | None) -> dict[str, Any]:
        value = self._score(text, embedding)
        try:
            complaint = self._complaint(text, embedding)
        except Exception as exc:  # sentiment alone still reads the message
            log.warning("complaint detection unavailable for this message: %s", type(exc).__name__)
            complaint = None
        threshold = self._detector.threshold if self._detector is not None else 1.0
        reading = read_message(value["score"], value["label"], complaint, threshold)
        return {
            **value,
            "complaint": complaint,
            "upset": reading.upset,
            "mood_score": reading.score,
        }

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # nothing downstream learns from sentiment

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            try:
                value = self._read(text, message.get(SENTENCE_EMBEDDING))
            except Exception as exc:  # a parse must never fail because of sentiment
                log.warning("sentiment unavailable for this message: %s", type(exc).__name__)
                value = NEUTRAL
            message.set(SENTIMENT, {**value, "scorer": self._scorer.name}, add_to_output=True)
        return messages
