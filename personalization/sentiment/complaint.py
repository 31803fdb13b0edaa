"""Whether a message is a complaint: the unhappiness that sentiment scores miss.

Customers who complain to a shop often write flatly ("still no refund", "order never
arrived"): no emotional word, so a sentiment scorer calls them neutral. The detector is a
logistic regression over four views of a message: its MiniLM sentence vector (what it is
about), TF-IDF word and character n-grams (the exact phrases of complaints, typos included),
and VADER's scores with the support lexicon's features. It is fitted to tweets that
customers wrote to companies' service accounts (complaint_training.py).

Its threshold is chosen for recall on complaints: a missed unhappy customer costs more than
an apology to a merely curious one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from personalization.metrics import serve_model
from personalization.sentiment.scorer import LexiconScorer, write_model
from personalization.settings import complaint_model_path

log = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path("models") / "sentiment" / "complaint.joblib"
_HANDLE = re.compile(r"@\w+")
_LINK = re.compile(r"https?://\S+")


def normalise(text: str) -> str:
    """Handles and links name a company or a page, not a mood: the model must not learn
    which account is complained to, nor that a message starts with one (a customer chatting
    with us names no account). Applied before every view, the sentence vector included."""
    return " ".join(_LINK.sub("http", _HANDLE.sub(" ", text)).split())


class ComplaintDetector:
    name = "minilm+tfidf+vader-complaint-logreg"

    def __init__(
        self,
        words: Any,
        characters: Any,
        classifier: Any,
        encoder: Any,
        threshold: float = 0.5,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self._words, self._characters = words, characters
        self._classifier = classifier
        self._encoder = encoder
        self.threshold = float(threshold)
        self.meta = meta or {}

    def features(self, texts: list[str], embeddings: np.ndarray | None = None) -> Any:
        return design_matrix(
            self._words, self._characters, texts, self._embeddings(texts, embeddings)
        )

    def _embeddings(self, texts: list[str], embeddings: np.ndarray | None) -> np.ndarray:
        if embeddings is not None:
            return embeddings
        return self._encoder.encode([normalise(t) for t in texts])

    def probabilities(self, texts: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """P(complaint) per text; ``embeddings`` reuses sentence vectors already computed."""
        if not texts:
            return np.zeros(0)
        return self._classifier.predict_proba(self.features(texts, embeddings))[:, 1]

    def is_complaint(self, probability: float) -> bool:
        return probability >= self.threshold

    def save(self, path: Path) -> None:
        payload = {
            "words": self._words,
            "characters": self._characters,
            "classifier": self._classifier,
            "threshold": self.threshold,
        }
        write_model(path, payload, self.meta)


@lru_cache(maxsize=1)
def _lexicon() -> LexiconScorer:
    """One VADER for the process: building it reads its lexicon file, about 10 ms."""
    return LexiconScorer()


def design_matrix(
    words: Any | None, characters: Any | None, texts: list[str], embeddings: np.ndarray
) -> Any:
    """The four views side by side, as one sparse matrix (without n-grams when the
    vocabularies are None: a variant measured for comparison)."""
    from scipy.sparse import csr_matrix, hstack

    normalised = [normalise(t) for t in texts]
    dense = csr_matrix(np.hstack([embeddings, _lexicon().features(normalised)]))
    if words is None or characters is None:
        return dense
    return hstack([words.transform(normalised), characters.transform(normalised), dense]).tocsr()


def load_detector(path: Path | None = None) -> ComplaintDetector | None:
    """The trained detector, or None (with a warning): the mood then rests on sentiment."""
    path = path or complaint_model_path(DEFAULT_MODEL_PATH)
    if not path.is_file():
        log.warning("no complaint model at %s; the mood uses sentiment alone", path)
        serve_model("complaint", "none")
        return None
    try:
        import joblib

        from personalization.embeddings import shared_encoder

        stored = joblib.load(path)
        detector = ComplaintDetector(
            stored["words"],
            stored["characters"],
            stored["classifier"],
            shared_encoder(),
            threshold=stored["threshold"],
            meta=stored.get("meta"),
        )
        serve_model("complaint", hashlib.sha256(path.read_bytes()).hexdigest()[:12])
        return detector
    except Exception as exc:  # a truncated or foreign pickle raises anything; never the bot
        log.warning(
            "complaint model %s unusable (%s); the mood uses sentiment alone",
            path,
            type(exc).__name__,
        )
        serve_model("complaint", "none")
        return None
