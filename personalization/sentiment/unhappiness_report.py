"""How well the bot tells an unhappy customer: one report, every scorer on the same rows.

- Complaint detection on `complaints/`, in 10-fold cross-validation and leaving one industry
  out: VADER (compound below its neutral band), the sentiment scorer (label "negative"), the
  complaint detector, and the bot's "upset" decision, which uses both signals.
- Three-class sentiment on a held-out fifth of `tweeteval_sentiment/`: VADER and the
  sentiment scorer.
- Each VADER ground-truth set left out of the sentiment scorer's training in turn
  (training.evaluate).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from personalization.sentiment.complaint_training import (
    ComplaintSet,
    choose_threshold,
    cross_validated,
    detection_scores,
    leave_domain_out,
)
from personalization.sentiment.scorer import (
    LABELS,
    VADER_COMPOUND,
    LexiconScorer,
    SentimentScorer,
    TrainedScorer,
    label_for,
)
from personalization.sentiment.training import DatasetMissing, cached_embeddings
from personalization.settings import shared_datasets_dir

TWEETEVAL_FILES = ("val.csv", "test.csv")
TWEETEVAL_HELD_OUT = 0.2
VADER_NEUTRAL_BAND = 0.05


def _sentiment(
    scorer: SentimentScorer, texts: list[str], embeddings: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    if isinstance(scorer, TrainedScorer):
        return scorer.predict(texts, embeddings)
    results = scorer.score_many(texts)
    return np.array([r.score for r in results]), [r.label for r in results]


def _vader_compound(texts: list[str]) -> np.ndarray:
    return LexiconScorer().features(texts)[:, VADER_COMPOUND]


def complaint_rows(
    data: ComplaintSet, encoder: Any, scorer: SentimentScorer, cache_dir: Path | None
) -> dict[str, Any]:
    embeddings = cached_embeddings(encoder, data.texts, cache_dir)
    vader_flags = _vader_compound(data.texts) < -VADER_NEUTRAL_BAND
    _, labels = _sentiment(scorer, data.texts, embeddings)
    negative = np.array([label == "negative" for label in labels])
    cross = cross_validated(data, embeddings)
    threshold = choose_threshold(data.labels, cross)
    by_domain = leave_domain_out(data, embeddings)
    industries = ~np.isnan(by_domain)

    def rows(probabilities: np.ndarray, mask: np.ndarray) -> list[dict[str, Any]]:
        truth, p = data.labels[mask], probabilities[mask]
        return [
            {"scorer": "VADER, compound < -0.05", **detection_scores(truth, vader_flags[mask])},
            {
                "scorer": f"sentiment ({scorer.name}), negative",
                **detection_scores(truth, negative[mask]),
            },
            {"scorer": "complaint detector, p >= 0.5", **detection_scores(truth, p, 0.5)},
            {
                "scorer": f"complaint detector, p >= {threshold:g}",
                **detection_scores(truth, p, threshold),
            },
            {
                "scorer": "upset: complaint or negative",
                **detection_scores(truth, (p >= threshold) | negative[mask]),
            },
        ]

    per_industry = {
        industry: detection_scores(
            data.labels[data.domains == industry], by_domain[data.domains == industry], 0.5
        )
        for industry in data.industries
    }
    return {
        "tweets": len(data.texts),
        "threshold": threshold,
        "cross_validated": rows(cross, np.ones(len(data.texts), dtype=bool)),
        "industry_left_out": rows(np.nan_to_num(by_domain), industries),
        "industry_left_out_scored": int(industries.sum()),
        "per_industry": per_industry,
        "mean_per_industry_macro_f1": round(
            float(np.mean([s["macro_f1"] for s in per_industry.values()])), 4
        ),
    }


def tried_rows(data: ComplaintSet, encoder: Any, cache_dir: Path | None) -> list[dict[str, Any]]:
    """Macro-F1 at p >= 0.5 of ours and each variant tried, in both validations."""
    from personalization.sentiment.complaint_training import OURS, TRIED

    embeddings = cached_embeddings(encoder, data.texts, cache_dir)
    rows = []
    for recipe in (OURS, *TRIED):
        cross = cross_validated(data, embeddings, recipe=recipe)
        by_domain = leave_domain_out(data, embeddings, recipe)
        industries = ~np.isnan(by_domain)
        rows.append(
            {
                "recipe": recipe.name,
                "cross_validated_macro_f1": detection_scores(data.labels, cross, 0.5)["macro_f1"],
                "industry_left_out_macro_f1": detection_scores(
                    data.labels[industries], by_domain[industries], 0.5
                )["macro_f1"],
                "random_tweets_flagged": round(float((cross[data.random] >= 0.5).mean()), 3),
            }
        )
    return rows


def load_tweeteval(root: Path | None = None) -> tuple[list[str], list[str]]:
    folder = (root or shared_datasets_dir()) / "tweeteval_sentiment"
    texts, labels = [], []
    for name in TWEETEVAL_FILES:
        path = folder / name
        if not path.is_file():
            raise DatasetMissing(f"{path} is missing (set SHARED_DATASETS)")
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("label") in LABELS and row.get("text"):
                    texts.append(row["text"])
                    labels.append(row["label"])
    return texts, labels


def held_out_tweeteval(root: Path | None = None) -> tuple[list[str], list[str]]:
    """A stratified fifth, with a fixed seed: the part no model of ours trains on."""
    from sklearn.model_selection import train_test_split

    texts, labels = load_tweeteval(root)
    _, held_texts, _, held_labels = train_test_split(
        texts, labels, test_size=TWEETEVAL_HELD_OUT, stratify=labels, random_state=0
    )
    return held_texts, held_labels


def tweeteval_rows(
    encoder: Any, scorer: SentimentScorer, cache_dir: Path | None, root: Path | None = None
) -> dict[str, Any]:
    from sklearn.metrics import f1_score, recall_score

    texts, truth = held_out_tweeteval(root)
    embeddings = cached_embeddings(encoder, texts, cache_dir)
    _, ours = _sentiment(scorer, texts, embeddings)
    vader = [label_for(v, VADER_NEUTRAL_BAND) for v in _vader_compound(texts)]

    def scores(predicted: list[str]) -> dict[str, float]:
        return {
            "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
            "macro_recall": round(float(recall_score(truth, predicted, average="macro")), 4),
        }

    return {
        "held_out_tweets": len(texts),
        "rows": [
            {"scorer": "VADER", **scores(vader)},
            {"scorer": f"sentiment ({scorer.name})", **scores(ours)},
        ],
    }
