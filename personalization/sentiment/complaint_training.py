"""Fit the complaint detector to tweets that customers wrote to companies, and measure it.

The data is `complaints/complaints.csv` in SHARED_DATASETS (Preoţiuc-Pietro et al., ACL
2019): tweets to the service accounts of nine industries, plus random tweets, each labelled
complaint or not. It is read from there and never copied into the repository.

Tweets to a company are not chat with a shop: there, "where is my order?" or "what are
your delivery charges" is usually a complaint, and short replies ("no", "not sure") often
are. So every fit also learns from the bot's own training examples (`data/*.yml`), labelled
by intent: "complain" and "billing_problem" are complaints, plain requests and small talk
are not, and the journeys that can go either way (order status, returns) are left out.
They are never scored: every figure is on tweets.

Two validations, as the data set's authors use them:

- 10-fold cross-validation, stratified by label;
- leaving one industry out at a time: the model is fitted on the other eight and the random
  tweets, and scored on the industry it never saw. Random tweets are never scored, since
  they are not written to a company.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from personalization.sentiment.complaint import ComplaintDetector, design_matrix, normalise
from personalization.sentiment.training import DatasetMissing, cached_embeddings
from personalization.settings import shared_datasets_dir

COMPLAINTS_FILE = Path("complaints") / "complaints.csv"
RANDOM_DOMAINS = frozenset({"random_reply", "random_tweet"})
# The threshold is the highest that still catches this share of complaints in predictions
# for unseen tweets: nine in ten, as a missed unhappy customer costs more than an apology.
RECALL_TARGET = 0.90
REGULARISATION_C = 3.0  # chosen by 10-fold cross-validation among 1, 3 and 10
FOLDS = 10
SEED = 0


@dataclass(frozen=True)
class Recipe:
    """How a detector is fitted: with n-grams or not, and how much the random tweets (not
    written to a company) weigh in training."""

    name: str
    ngrams: bool = True
    random_weight: float = 1.0
    chat: bool = True


OURS = Recipe("ours: MiniLM + n-grams + VADER, every tweet, the bot's examples")
# Measured beside ours by `personalization mood-evaluate --tried` (docs/models.md).
TRIED = (
    Recipe("ours without the bot's examples", chat=False),
    Recipe("MiniLM + VADER, no n-grams", ngrams=False),
    Recipe("ours, random tweets at weight 0.1", random_weight=0.1),
    Recipe("ours, without the random tweets", random_weight=0.0),
)
CHAT_DATA = Path("data")
COMPLAINT_INTENTS = frozenset({"complain", "billing_problem"})
# Intents whose messages ask or answer plainly; order_status and request_return carry both
# calm questions and angry reports, so they teach nothing either way.
PLAIN_INTENTS = frozenset(
    {
        "affirm",
        "ask_help",
        "ask_my_data",
        "ask_recommendation",
        "bot_challenge",
        "choose_product",
        "delete_my_data",
        "deny",
        "dont_know",
        "goodbye",
        "greet",
        "how_are_you",
        "identify",
        "inform",
        "opt_in",
        "opt_out",
        "rate",
        "refine_recommendation",
        "request_human",
        "stop",
        "thank",
    }
)
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Examples:
    """Labelled texts that every fit learns from and no validation scores."""

    texts: list[str]
    labels: np.ndarray
    embeddings: np.ndarray


def nlu_examples(paths: list[Path]) -> list[tuple[str, str]]:
    """(intent, text) of every example in these Rasa NLU files, entity markup removed."""
    import yaml

    examples = []
    for path in paths:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in content.get("nlu") or []:
            intent = block.get("intent") if isinstance(block, dict) else None
            if not isinstance(intent, str):
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append((intent, _ANNOTATION.sub(r"\1", line[2:]).strip()))
    return examples


def load_chat_examples(folder: Path = CHAT_DATA) -> tuple[list[str], np.ndarray]:
    """The bot's NLU examples of the intents above; none without the folder."""
    paths = sorted(folder.glob("*.yml")) if folder.is_dir() else []
    chosen = [(i, t) for i, t in nlu_examples(paths) if i in COMPLAINT_INTENTS | PLAIN_INTENTS]
    return [t for _, t in chosen], np.array([int(i in COMPLAINT_INTENTS) for i, _ in chosen])


@dataclass(frozen=True)
class ComplaintSet:
    texts: list[str]
    labels: np.ndarray  # 1 complaint, 0 not
    domains: np.ndarray

    @property
    def industries(self) -> list[str]:
        return sorted(set(self.domains.tolist()) - RANDOM_DOMAINS)

    @property
    def random(self) -> np.ndarray:
        return np.isin(self.domains, list(RANDOM_DOMAINS))


def load_complaints(root: Path | None = None) -> ComplaintSet:
    path = (root or shared_datasets_dir()) / COMPLAINTS_FILE
    if not path.is_file():
        raise DatasetMissing(f"{path} is missing (set SHARED_DATASETS)")
    texts, labels, domains = [], [], []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("complaint") not in ("0", "1") or not row.get("text"):
                continue
            texts.append(normalise(row["text"]))  # every view sees what chat would send
            labels.append(int(row["complaint"]))
            domains.append(row.get("domain") or "unknown")
    if len(set(labels)) < 2:
        raise DatasetMissing(f"{path} needs labelled rows of both kinds, complaint and not")
    return ComplaintSet(texts, np.array(labels), np.array(domains))


def fit_parts(
    texts: list[str],
    labels: np.ndarray,
    embeddings: np.ndarray,
    weights: np.ndarray | None = None,
    ngrams: bool = True,
) -> tuple[Any, ...]:
    """The two vocabularies (None without n-grams) and the classifier, learnt from these
    texts only."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    words = characters = None
    if ngrams:
        normalised = [normalise(t) for t in texts]
        words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(normalised)
        characters = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True
        ).fit(normalised)
    classifier = LogisticRegression(C=REGULARISATION_C, max_iter=3000, class_weight="balanced").fit(
        design_matrix(words, characters, texts, embeddings), labels, sample_weight=weights
    )
    return words, characters, classifier


def _held_out_probabilities(
    data: ComplaintSet,
    embeddings: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    recipe: Recipe,
    extra: Examples | None = None,
) -> np.ndarray:
    if recipe.random_weight == 0:
        train = train[~data.random[train]]
    weights = np.where(data.random[train], recipe.random_weight, 1.0)
    texts = [data.texts[i] for i in train]
    labels, vectors = data.labels[train], embeddings[train]
    if extra is not None and recipe.chat and extra.texts:
        texts = texts + extra.texts
        labels = np.concatenate([labels, extra.labels])
        vectors = np.vstack([vectors, extra.embeddings])
        weights = np.concatenate([weights, np.ones(len(extra.texts))])
    words, characters, classifier = fit_parts(texts, labels, vectors, weights, recipe.ngrams)
    scored = design_matrix(words, characters, [data.texts[i] for i in test], embeddings[test])
    return classifier.predict_proba(scored)[:, 1]


def cross_validated(
    data: ComplaintSet,
    embeddings: np.ndarray,
    folds: int = FOLDS,
    recipe: Recipe = OURS,
    extra: Examples | None = None,
) -> np.ndarray:
    """P(complaint) of every tweet from a model that did not see it."""
    from sklearn.model_selection import StratifiedKFold

    probabilities = np.zeros(len(data.texts))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=SEED)
    for train, test in splitter.split(data.texts, data.labels):
        probabilities[test] = _held_out_probabilities(data, embeddings, train, test, recipe, extra)
    return probabilities


def leave_domain_out(
    data: ComplaintSet,
    embeddings: np.ndarray,
    recipe: Recipe = OURS,
    extra: Examples | None = None,
) -> np.ndarray:
    """P(complaint) of each industry's tweets from a model fitted without that industry;
    NaN for the random tweets, which are never scored."""
    probabilities = np.full(len(data.texts), np.nan)
    for industry in data.industries:
        test = np.flatnonzero(data.domains == industry)
        train = np.flatnonzero(data.domains != industry)
        probabilities[test] = _held_out_probabilities(data, embeddings, train, test, recipe, extra)
    return probabilities


def chat_examples(encoder: Any, cache_dir: Path | None, folder: Path = CHAT_DATA) -> Examples:
    texts, labels = load_chat_examples(folder)
    vectors = cached_embeddings(encoder, texts, cache_dir) if texts else np.zeros((0, 384))
    return Examples(texts, labels, vectors)


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The highest threshold (in steps of 0.01) whose recall of complaints meets the target."""
    complaints = np.sort(probabilities[labels == 1])
    if len(complaints) == 0:
        return 0.5
    # Recall at threshold t is the share of complaints scored >= t.
    allowed_misses = int(np.floor((1 - RECALL_TARGET) * len(complaints) + 1e-9))
    highest = complaints[allowed_misses]
    return float(np.floor(highest * 100) / 100)


def train(
    data: ComplaintSet,
    encoder: Any,
    cache_dir: Path | None = None,
    folds: int = FOLDS,
    chat_data: Path | None = CHAT_DATA,
) -> ComplaintDetector:
    """Fit on every tweet and the bot's examples (``chat_data``, None for none); the
    threshold comes from cross-validated predictions for the tweets."""
    started = time.monotonic()
    embeddings = cached_embeddings(encoder, data.texts, cache_dir)
    extra = chat_examples(encoder, cache_dir, chat_data) if chat_data is not None else None
    held_out = cross_validated(data, embeddings, folds, extra=extra)
    threshold = choose_threshold(data.labels, held_out)
    texts, labels, vectors = data.texts, data.labels, embeddings
    if extra is not None and extra.texts:
        texts = texts + extra.texts
        labels = np.concatenate([labels, extra.labels])
        vectors = np.vstack([vectors, extra.embeddings])
    words, characters, classifier = fit_parts(texts, labels, vectors)
    meta = {
        "trained_on": {
            "tweets": len(data.texts),
            "complaints": int(data.labels.sum()),
            "bot_examples": len(extra.texts) if extra is not None else 0,
        },
        "threshold": threshold,
        "threshold_rule": f"recall >= {RECALL_TARGET:g} on {folds}-fold cross-validated tweets",
        "cross_validated": detection_scores(data.labels, held_out, threshold),
        "seconds": round(time.monotonic() - started, 1),
    }
    return ComplaintDetector(words, characters, classifier, encoder, threshold, meta)


def detection_scores(
    labels: np.ndarray, predicted: np.ndarray, threshold: float | None = None
) -> dict[str, float]:
    """Macro-F1 and the complaint class's precision and recall; ``predicted`` holds
    probabilities cut at ``threshold``, or booleans when it is None."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    flagged = predicted >= threshold if threshold is not None else predicted.astype(bool)
    return {
        "macro_f1": round(float(f1_score(labels, flagged, average="macro")), 4),
        "precision": round(float(precision_score(labels, flagged, zero_division=0)), 4),
        "recall": round(float(recall_score(labels, flagged)), 4),
    }
