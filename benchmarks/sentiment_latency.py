"""Sentiment scoring latency per message, pinned to one CPU core.

Run:  .venv/bin/python -m benchmarks.sentiment_latency [--model models/sentiment/model.joblib]

The budget is 20 ms per message on one core. The process pins itself to core 0 before
TensorFlow starts, then scores support messages one at a time, as the bot does each turn,
and prints the median over runs of each run's p50 and p99. Without a trained model file it
fits a throw-away scorer on a few labelled lines: latency does not depend on what the
classifier learnt, only on the encoder and the feature pipeline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

MESSAGES = (
    "still waiting for my refund, third time asking",
    "thanks, that was quick!",
    "where is my order 536365?",
    "The lantern arrived broken and nobody answers my emails",
    "can I change the delivery address",
    "I love the candles, will order again",
    "this is ridiculous, I was charged twice",
    "ok",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/sentiment/model.joblib"))
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

    from personalization.embeddings import shared_encoder
    from personalization.sentiment.scorer import TrainedScorer, load_scorer
    from personalization.sentiment.training import RatedTexts, train

    if args.model.is_file():
        scorer = load_scorer(args.model)
        origin = str(args.model)
    else:
        texts = [*MESSAGES, "awful", "great", "fine", "terrible service", "perfect, thank you"]
        ratings = [-2.5, 2.5, 0, -1.5, 0, 2.8, -3.0, 0, -3, 3, 0, -2.8, 3.2]
        import numpy as np

        scorer = train([RatedTexts("timing", texts, np.array(ratings))], shared_encoder())
        origin = "a throw-away model (no trained model file)"
    if not isinstance(scorer, TrainedScorer):
        raise SystemExit(f"{args.model} did not load as the trained scorer")
    for message in MESSAGES:  # warm-up: graph tracing, tokenizer caches
        scorer.score(message)
    p50s, p99s = [], []
    for _ in range(args.runs):
        timings = []
        for n in range(args.messages):
            started = time.perf_counter()
            scorer.score(MESSAGES[n % len(MESSAGES)])
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p50s.append(timings[len(timings) // 2])
        p99s.append(timings[int(len(timings) * 0.99)])
    print(f"trained scorer from {origin}, one core, {args.messages} messages × {args.runs} runs")
    print(f"p50 {statistics.median(p50s):.1f} ms, p99 {statistics.median(p99s):.1f} ms per message")


if __name__ == "__main__":
    main()
