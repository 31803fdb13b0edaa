"""Fit the trained scorer to human ratings, and compare it with VADER.

The ratings are the four VADER ground-truth sets (tweets, Amazon reviews, movie reviews, NYT
editorials), read from SHARED_DATASETS and never copied into the repository. Four fifths of
tweeteval's labelled tweets were measured as a fifth training set (``training_sets``); the
last fifth is held out of every fit (unhappiness_report). The evaluation is
leave-one-set-out: each set is scored by a model fitted on the others, so every figure is
on text the model never saw, from a domain it was not fitted to.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from personalization.sentiment.scorer import (
    LABELS,
    VADER_COMPOUND,
    LexiconScorer,
    TrainedScorer,
    label_for,
)
from personalization.settings import shared_datasets_dir

log = logging.getLogger(__name__)

GROUND_TRUTH_SETS = (
    "tweets",
    "amazonReviewSnippets",
    "movieReviewSnippets",
    "nytEditorialSnippets",
)
NEUTRAL_BAND = 0.5  # ratings within ±0.5 are neutral, as the data set's README defines


class DatasetMissing(FileNotFoundError):
    """The shared data sets are not where SHARED_DATASETS says."""


@dataclass(frozen=True)
class RatedTexts:
    name: str
    texts: list[str]
    ratings: np.ndarray

    @property
    def labels(self) -> list[str]:
        return [label_for(r, NEUTRAL_BAND) for r in self.ratings]


def load_ground_truth(root: Path | None = None) -> list[RatedTexts]:
    folder = (root or shared_datasets_dir()) / "vader_ground_truth"
    sets = []
    for name in GROUND_TRUTH_SETS:
        path = folder / f"{name}_GroundTruth.txt"
        if not path.is_file():
            raise DatasetMissing(f"{path} is missing (set SHARED_DATASETS)")
        texts, ratings = [], []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.rstrip("\r").split("\t", 2)
            if len(parts) != 3:
                continue
            try:
                ratings.append(float(parts[1]))
            except ValueError:
                continue
            texts.append(parts[2])
        sets.append(RatedTexts(name, texts, np.array(ratings)))
    return sets


TWEETEVAL_FILES = ("val.csv", "test.csv")
TWEETEVAL_HELD_OUT = 0.2
# tweeteval's labels as ratings outside the neutral band, so a labelled tweet and a rated
# text train the classifier alike.
TWEETEVAL_RATINGS = {"negative": -2.0, "neutral": 0.0, "positive": 2.0}


def load_tweeteval(root: Path | None = None) -> tuple[list[str], list[str]]:
    folder = (root or shared_datasets_dir()) / "tweeteval_sentiment"
    texts, labels = [], []
    for name in TWEETEVAL_FILES:
        path = folder / name
        if not path.is_file():
            raise DatasetMissing(f"{path} is missing (set SHARED_DATASETS)")
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("label") in TWEETEVAL_RATINGS and row.get("text"):
                    texts.append(row["text"])
                    labels.append(row["label"])
    return texts, labels


def tweeteval_split(root: Path | None = None) -> tuple[RatedTexts, RatedTexts]:
    """Four fifths to train on and the fifth held out of every fit, stratified, fixed seed."""
    from sklearn.model_selection import train_test_split

    texts, labels = load_tweeteval(root)
    train_texts, held_texts, train_labels, held_labels = train_test_split(
        texts, labels, test_size=TWEETEVAL_HELD_OUT, stratify=labels, random_state=0
    )

    def rated(name: str, part: list[str], part_labels: list[str]) -> RatedTexts:
        return RatedTexts(name, part, np.array([TWEETEVAL_RATINGS[x] for x in part_labels]))

    return rated("tweeteval", train_texts, train_labels), rated(
        "tweeteval held out", held_texts, held_labels
    )


def training_sets(root: Path | None = None) -> list[RatedTexts]:
    """The VADER sets and, when it is there, tweeteval's training part: the recipe
    mood-evaluate compares with the VADER sets alone."""
    sets = load_ground_truth(root)
    try:
        sets.append(tweeteval_split(root)[0])
    except DatasetMissing as exc:
        log.warning("training on the VADER sets alone: %s", exc)
    return sets


def cached_embeddings(encoder: Any, texts: list[str], cache_dir: Path | None) -> np.ndarray:
    """Embeddings of a whole set, cached on disk by content: encoding 24k texts takes minutes."""
    if cache_dir is None:
        return encoder.encode(texts)
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:24]
    path = cache_dir / f"minilm-{digest}.npy"
    if path.is_file():
        return np.load(path)
    vectors = encoder.encode(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def fit(features: np.ndarray, labels: list[str]) -> Any:
    """Balanced classes: the sets hold far more positive and neutral texts than negative."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(features, labels)


def _macro_f1(truth: list[str], predicted: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, labels=list(LABELS), average="macro"))


VADER_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


@dataclass
class _Block:
    """One rated set, with its features computed once."""

    rated: RatedTexts
    features: np.ndarray

    @property
    def vader(self) -> np.ndarray:
        return self.features[:, -8 + VADER_COMPOUND]


def _blocks(sets: list[RatedTexts], encoder: Any, cache_dir: Path | None) -> list[_Block]:
    lexicon = LexiconScorer()
    return [
        _Block(
            s,
            np.hstack([cached_embeddings(encoder, s.texts, cache_dir), lexicon.features(s.texts)]),
        )
        for s in sets
    ]


def _fit_blocks(blocks: list[_Block]) -> Any:
    return fit(
        np.vstack([b.features for b in blocks]), [label for b in blocks for label in b.rated.labels]
    )


def choose_blend(blocks: list[_Block], encoder: Any) -> dict[str, Any]:
    """VADER weight and label threshold that maximise macro-F1 on sets left out of the fit.

    Each set is scored by a classifier fitted on the others, so the choice reflects text the
    classifier has not seen, as in production. With a single set there is nothing to leave
    out: no blend, and the label is the most likely class.
    """
    if len(blocks) < 2:
        return {}
    held_out = []
    for block in blocks:
        others = [b for b in blocks if b is not block]
        scorer = TrainedScorer(_fit_blocks(others), encoder)
        held_out.append((scorer.model_scores(block.features), block.vader, block.rated.labels))
    best: tuple[float, float, float] | None = None
    for weight in VADER_WEIGHTS:
        for threshold in THRESHOLDS:
            f1 = float(
                np.mean(
                    [
                        _macro_f1(
                            labels,
                            [label_for(v, threshold) for v in (1 - weight) * m + weight * vader],
                        )
                        for m, vader, labels in held_out
                    ]
                )
            )
            if best is None or f1 > best[0]:
                best = (f1, weight, threshold)
    assert best is not None
    return {"vader_weight": best[1], "threshold": best[2], "held_out_macro_f1": round(best[0], 4)}


def evaluate(
    sets: list[RatedTexts], encoder: Any, cache_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Per set: macro-F1 over 3 classes and Pearson r, for VADER, the lexicon scorer, ours.

    Each set is scored by a model trained on the other three, blend included: the blend is
    chosen by leaving each of those three out in turn, so the scored set is never seen.
    """
    lexicon = LexiconScorer()
    blocks = _blocks(sets, encoder, cache_dir)
    rows = []
    for block in blocks:
        train_blocks = [b for b in blocks if b is not block]
        blend = choose_blend(train_blocks, encoder)
        ours = TrainedScorer(_fit_blocks(train_blocks), encoder, lexicon, {"blend": blend})
        held_out = block.rated
        embeddings = block.features[:, :-8]
        predicted, predicted_labels = ours.predict(held_out.texts, embeddings)
        vader = block.vader
        lexicon_scores = np.array([s.score for s in lexicon.score_many(held_out.texts)])
        truth = held_out.labels
        rows.append(
            {
                "set": held_out.name,
                "texts": len(held_out.texts),
                "vader_macro_f1": _macro_f1(truth, [label_for(v, 0.05) for v in vader]),
                "vader_pearson_r": float(np.corrcoef(vader, held_out.ratings)[0, 1]),
                "lexicon_macro_f1": _macro_f1(
                    truth, [label_for(v, lexicon.threshold) for v in lexicon_scores]
                ),
                "lexicon_pearson_r": float(np.corrcoef(lexicon_scores, held_out.ratings)[0, 1]),
                "ours_macro_f1": _macro_f1(truth, predicted_labels),
                "ours_pearson_r": float(np.corrcoef(predicted, held_out.ratings)[0, 1]),
                "ours_blend": blend,
            }
        )
    return rows


def train(sets: list[RatedTexts], encoder: Any, cache_dir: Path | None = None) -> TrainedScorer:
    """Fit on every set, for use in the bot; the blend is chosen leaving one set out at a time."""
    started = time.monotonic()
    blocks = _blocks(sets, encoder, cache_dir)
    blend = choose_blend(blocks, encoder)
    classifier = _fit_blocks(blocks)
    meta = {
        "trained_on": {s.name: len(s.texts) for s in sets},
        "features": int(blocks[0].features.shape[1]),
        "blend": blend,
        "seconds": round(time.monotonic() - started, 1),
    }
    return TrainedScorer(classifier, encoder, LexiconScorer(), meta)
