"""How well the bot tells an unhappy customer: one report, every scorer on the same rows.

- Complaint detection on `complaints/`, in 10-fold cross-validation and leaving one industry
  out: VADER (compound below its neutral band), the sentiment scorer (label "negative"), the
  complaint detector, and the bot's "upset" decision, which uses both signals.
- Three-class sentiment on the held-out fifth of `tweeteval_sentiment/`: VADER, the
  sentiment scorer fitted on the VADER sets alone (as before), and fitted with tweeteval's
  training part too (ours).
- Each VADER ground-truth set left out of the sentiment scorer's training in turn
  (training.evaluate), by both recipes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from personalization.sentiment.complaint import design_matrix
from personalization.sentiment.complaint_training import (
    ComplaintSet,
    chat_examples,
    choose_threshold,
    cross_validated,
    detection_scores,
    fit_parts,
    leave_domain_out,
    nlu_examples,
)
from personalization.sentiment.scorer import (
    VADER_COMPOUND,
    LexiconScorer,
    SentimentScorer,
    TrainedScorer,
    label_for,
)
from personalization.sentiment.signals import read_message
from personalization.sentiment.training import (
    cached_embeddings,
    evaluate,
    load_ground_truth,
    train,
    training_sets,
    tweeteval_split,
)

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
    extra = chat_examples(encoder, cache_dir)
    vader_flags = _vader_compound(data.texts) < -VADER_NEUTRAL_BAND
    _, labels = _sentiment(scorer, data.texts, embeddings)
    negative = np.array([label == "negative" for label in labels])
    cross = cross_validated(data, embeddings, extra=extra)
    threshold = choose_threshold(data.labels, cross)
    by_domain = leave_domain_out(data, embeddings, extra=extra)
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


HELD_OUT_CHAT = Path("tests") / "nlu" / "heldout.yml"


def held_out_chat_rows(
    data: ComplaintSet,
    encoder: Any,
    scorer: SentimentScorer,
    threshold: float,
    cache_dir: Path | None,
    path: Path = HELD_OUT_CHAT,
) -> list[dict[str, Any]]:
    """Per intent of the bot's held-out NLU messages (never in training): the share read as
    a complaint and as upset, by a detector fitted as `complaint-train` fits it."""
    if not path.is_file():
        return []
    extra = chat_examples(encoder, cache_dir)
    embeddings = cached_embeddings(encoder, data.texts, cache_dir)
    words, characters, classifier = fit_parts(
        data.texts + extra.texts,
        np.concatenate([data.labels, extra.labels]),
        np.vstack([embeddings, extra.embeddings]),
    )
    examples = nlu_examples([path])
    texts = [t for _, t in examples]
    vectors = encoder.encode(texts)
    complaint = classifier.predict_proba(design_matrix(words, characters, texts, vectors))[:, 1]
    scores, labels = _sentiment(scorer, texts, vectors)
    rows = []
    for intent in sorted({i for i, _ in examples}):
        chosen = [n for n, (i, _) in enumerate(examples) if i == intent]
        readings = [
            read_message(float(scores[n]), labels[n], float(complaint[n]), threshold)
            for n in chosen
        ]
        rows.append(
            {
                "intent": intent,
                "messages": len(chosen),
                "complaint": round(float(np.mean([r.complaint for r in readings])), 3),
                "upset": round(float(np.mean([r.upset for r in readings])), 3),
            }
        )
    return rows


def tried_rows(data: ComplaintSet, encoder: Any, cache_dir: Path | None) -> list[dict[str, Any]]:
    """Macro-F1 at p >= 0.5 of ours and each variant tried, in both validations."""
    from personalization.sentiment.complaint_training import OURS, TRIED

    embeddings = cached_embeddings(encoder, data.texts, cache_dir)
    extra = chat_examples(encoder, cache_dir)
    rows = []
    for recipe in (OURS, *TRIED):
        cross = cross_validated(data, embeddings, recipe=recipe, extra=extra)
        by_domain = leave_domain_out(data, embeddings, recipe, extra)
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


def tweeteval_rows(
    encoder: Any, cache_dir: Path | None, root: Path | None = None
) -> dict[str, Any]:
    """VADER, the scorer fitted on the VADER sets alone (as before tweeteval) and the one
    fitted with tweeteval's training part too, on the held-out fifth."""
    from sklearn.metrics import f1_score, recall_score

    held_out = tweeteval_split(root)[1]
    texts, truth = held_out.texts, held_out.labels
    embeddings = cached_embeddings(encoder, texts, cache_dir)
    vader = [label_for(v, VADER_NEUTRAL_BAND) for v in _vader_compound(texts)]

    def scores(name: str, predicted: list[str]) -> dict[str, Any]:
        return {
            "scorer": name,
            "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
            "macro_recall": round(float(recall_score(truth, predicted, average="macro")), 4),
        }

    rows = [scores("VADER", vader)]
    for name, sets in (
        ("sentiment fitted on the VADER sets", load_ground_truth(root)),
        ("sentiment fitted on the VADER sets and tweeteval", training_sets(root)),
    ):
        scorer = train(sets, encoder, cache_dir)
        rows.append(scores(name, scorer.predict(texts, embeddings)[1]))
    return {"held_out_tweets": len(texts), "rows": rows}


def vader_set_rows(encoder: Any, cache_dir: Path | None, root: Path | None = None) -> Any:
    """Each VADER set left out in turn, by the recipe before tweeteval and by ours."""
    before = {r["set"]: r for r in evaluate(load_ground_truth(root), encoder, cache_dir)}
    ours = evaluate(training_sets(root), encoder, cache_dir)
    return [
        {
            "set": row["set"],
            "texts": row["texts"],
            "vader_macro_f1": row["vader_macro_f1"],
            "vader_sets_only_macro_f1": before[row["set"]]["ours_macro_f1"]
            if row["set"] in before
            else None,
            "with_tweeteval_macro_f1": row["ours_macro_f1"],
            "with_tweeteval_pearson_r": row["ours_pearson_r"],
        }
        for row in ours
    ]
