"""Message scores in [-1, 1] with a label.

Two scorers share one interface:

- `LexiconScorer`: VADER plus our support lexicon and rules. No model files, well under a
  millisecond; the fallback whenever the trained scorer is unavailable.
- `TrainedScorer`: a logistic regression over MiniLM sentence embeddings, VADER's four scores
  and the support features, fitted to the labels of human ratings. Its own score is
  P(positive) - P(negative). Blended with VADER's compound score at ``vader_weight`` it is
  the message score; ``threshold`` cuts it into labels. Both are chosen on sets the
  classifier did not see (training.choose_blend), which is what makes the blend generalise
  to text unlike the training data.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from personalization.metrics import serve_model
from personalization.sentiment.lexicon import support_features
from personalization.settings import sentiment_model_path

log = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
VADER_COMPOUND = 3  # column of VADER's compound score in LexiconScorer.features
DEFAULT_MODEL_PATH = Path("models") / "sentiment" / "model.joblib"


@dataclass(frozen=True)
class Sentiment:
    score: float
    label: str


def label_for(score: float, threshold: float) -> str:
    if score > threshold:
        return "positive"
    if score < -threshold:
        return "negative"
    return "neutral"


class SentimentScorer(Protocol):
    name: str

    def score_many(self, texts: list[str]) -> list[Sentiment]: ...

    def score(self, text: str) -> Sentiment: ...


class LexiconScorer:
    name = "vader+support-lexicon"
    # VADER's documented neutral band for its compound score.
    threshold = 0.05

    def __init__(self) -> None:
        self._vader = SentimentIntensityAnalyzer()

    def vader_scores(self, text: str) -> dict[str, float]:
        return self._vader.polarity_scores(text)

    def features(self, texts: list[str]) -> np.ndarray:
        """VADER's neg, neu, pos, compound, then the four support features."""
        rows = []
        for text in texts:
            vader = self._vader.polarity_scores(text)
            rows.append(
                [
                    vader["neg"],
                    vader["neu"],
                    vader["pos"],
                    vader["compound"],
                    *support_features(text),
                ]
            )
        return np.array(rows, dtype=np.float32).reshape(len(texts), 8)

    def _combine(self, row: np.ndarray) -> float:
        compound, negative, positive, escalation, shouting = row[3], *row[4:]
        value = compound + 0.12 * (negative + positive) - 0.25 * escalation
        if shouting > 0.6 and value < 0:
            value -= 0.1
        return float(np.clip(value, -1.0, 1.0))

    def score_many(self, texts: list[str]) -> list[Sentiment]:
        scores = [self._combine(row) for row in self.features(texts)]
        return [Sentiment(round(s, 4), label_for(s, self.threshold)) for s in scores]

    def score(self, text: str) -> Sentiment:
        return self.score_many([text])[0]


class TrainedScorer:
    name = "minilm+vader+support-logreg"

    def __init__(
        self,
        classifier: Any,
        encoder: Any,
        lexicon: LexiconScorer | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self._classifier = classifier
        self._encoder = encoder
        self._lexicon = lexicon or LexiconScorer()
        self._classes = list(classifier.classes_)
        self.meta = meta or {}
        blend = self.meta.get("blend") or {}
        self.vader_weight = float(blend.get("vader_weight", 0.0))
        self.threshold: float | None = blend.get("threshold")

    def features(self, texts: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        if embeddings is None:
            embeddings = self._encoder.encode(texts)
        return np.hstack([embeddings, self._lexicon.features(texts)])

    def model_scores(self, features: np.ndarray) -> np.ndarray:
        """The classifier's own score, P(positive) - P(negative)."""
        proba = self._classifier.predict_proba(features)
        return proba[:, self._classes.index("positive")] - proba[:, self._classes.index("negative")]

    def predict(
        self, texts: list[str], embeddings: np.ndarray | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """Scores in [-1, 1] and labels."""
        features = self.features(texts, embeddings)
        vader = features[:, -8 + VADER_COMPOUND]
        scores = (1 - self.vader_weight) * self.model_scores(features) + self.vader_weight * vader
        if self.threshold is None:  # a model saved before the blend: most likely class
            proba = self._classifier.predict_proba(features)
            return scores, [self._classes[i] for i in proba.argmax(axis=1)]
        return scores, [label_for(s, self.threshold) for s in scores]

    def score_many(self, texts: list[str]) -> list[Sentiment]:
        if not texts:
            return []
        scores, labels = self.predict(texts)
        return [
            Sentiment(round(float(s), 4), label) for s, label in zip(scores, labels, strict=True)
        ]

    def score(self, text: str) -> Sentiment:
        return self.score_many([text])[0]

    def save(self, path: Path) -> None:
        write_model(path, {"classifier": self._classifier}, self.meta)


def write_model(path: Path, payload: dict[str, Any], meta: dict[str, Any]) -> None:
    """The model file and its metadata beside it as JSON, for people to read."""
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    joblib.dump({**payload, "meta": meta}, temporary)
    temporary.replace(path)  # atomic: a reader never sees half a model
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str))


def load_scorer(path: Path | None = None) -> SentimentScorer:
    """The trained scorer if its files load, otherwise the lexicon scorer (with a warning)."""
    path = path or sentiment_model_path(DEFAULT_MODEL_PATH)
    if not path.is_file():
        log.warning("no sentiment model at %s; scoring with VADER and the support lexicon", path)
        serve_model("sentiment", "lexicon")
        return LexiconScorer()
    try:
        import joblib

        from personalization.embeddings import shared_encoder

        stored = joblib.load(path)
        scorer = TrainedScorer(stored["classifier"], shared_encoder(), meta=stored.get("meta"))
        serve_model("sentiment", hashlib.sha256(path.read_bytes()).hexdigest()[:12])
        return scorer
    except Exception as exc:  # a truncated or foreign pickle raises anything; never the bot
        log.warning(
            "sentiment model %s unusable (%s); scoring with VADER and the support lexicon",
            path,
            type(exc).__name__,
        )
        serve_model("sentiment", "lexicon")
        return LexiconScorer()
