"""How often the right help article comes first, on real customer questions.

Run:  .venv/bin/python -m benchmarks.article_matching

BANKING77 (in SHARED_DATASETS) holds real customer-service questions labelled by intent.
Nine of its intents are questions our shop's help centre answers too (a declined card, a
double charge, a refund not showing, a forgotten password, closing the account, …); each is
mapped to the article that answers it. The benchmark prints top-1 and top-3 accuracy for
TF-IDF alone, MiniLM alone and the blend the assistant uses, and the time per query. No
database is needed: the articles are read from the content files.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections import defaultdict

import numpy as np

from personalization.embeddings import shared_encoder
from personalization.help_center import load_articles
from personalization.recommender.articles import LEXICAL_WEIGHT, TextIndex
from personalization.settings import shared_datasets_dir

INTENT_TO_ARTICLE = {
    "Refund_not_showing_up": "refund-timing",
    "declined_card_payment": "payment-declined",
    "transaction_charged_twice": "charged-twice",
    "edit_personal_details": "update-account-details",
    "passcode_forgotten": "reset-password",
    "compromised_card": "account-security",
    "terminate_account": "close-account",
    "apple_pay_or_google_pay": "payment-methods",
    "supported_cards_and_currencies": "payment-methods",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timing runs (default 3)")
    args = parser.parse_args()
    path = shared_datasets_dir() / "banking77" / "train.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        questions = [
            (row["text"], INTENT_TO_ARTICLE[row["category"]])
            for row in csv.DictReader(handle)
            if row["category"] in INTENT_TO_ARTICLE
        ]
    articles = load_articles()
    ids = [a.id for a in articles]
    encoder = shared_encoder()
    blended = TextIndex(articles, encoder)
    lexical = TextIndex(articles)
    texts = [q for q, _ in questions]
    lexical_scores = np.stack([lexical.relevance(t) for t in texts])
    semantic = blended._article_vectors @ _unit(encoder.encode(texts)).T
    semantic_scores = np.clip(semantic.T, 0, 1)
    blend_scores = LEXICAL_WEIGHT * lexical_scores + (1 - LEXICAL_WEIGHT) * semantic_scores
    print(f"{len(questions)} BANKING77 questions, {len(ids)} articles")
    print(f"{'method':<20}{'top-1':>8}{'top-3':>8}")
    for name, scores in (
        ("TF-IDF", lexical_scores),
        ("MiniLM", semantic.T),
        ("blend (ours)", blend_scores),
    ):
        ranks = np.argsort(-scores, axis=1)
        top1 = np.mean([ids[r[0]] == want for r, (_, want) in zip(ranks, questions, strict=True)])
        top3 = np.mean(
            [want in {ids[i] for i in r[:3]} for r, (_, want) in zip(ranks, questions, strict=True)]
        )
        print(f"{name:<20}{top1:>8.3f}{top3:>8.3f}")
    per_intent: dict[str, list[bool]] = defaultdict(list)
    ranks = np.argsort(-blend_scores, axis=1)
    for r, (_, want) in zip(ranks, questions, strict=True):
        per_intent[want].append(ids[r[0]] == want)
    for article, hits in sorted(per_intent.items()):
        print(f"  {article:<24} top-1 {np.mean(hits):.3f} ({len(hits)} questions)")
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        for text in texts[:200]:
            blended.relevance(text)
        timings.append((time.perf_counter() - started) / 200 * 1000)
    print(f"blend relevance per question: median {statistics.median(timings):.1f} ms")


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


if __name__ == "__main__":
    main()
