"""Mood reading latency per message (sentiment and complaint), pinned to one CPU core.

Run:  .venv/bin/python -m benchmarks.sentiment_latency [--model models/sentiment/model.joblib]

The budget is 20 ms per message on one core. The process pins itself to core 0 before
TensorFlow starts, then reads support messages one at a time, as the bot does each turn:
one MiniLM vector, the sentiment scorer and the complaint detector on it. Every text is new,
so the encoder's cache of recent texts never answers. It prints the median over runs of
each run's p50 and p99. The complaint detector must have been fitted (`make train`).
Without a trained sentiment model file it fits a throw-away scorer on a few labelled lines:
latency does not depend on what the classifier learnt, only on the encoder and the features.
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
    parser.add_argument(
        "--complaint-model", type=Path, default=Path("models/sentiment/complaint.joblib")
    )
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

    from personalization.embeddings import shared_encoder
    from personalization.sentiment.complaint import load_detector
    from personalization.sentiment.scorer import TrainedScorer, load_scorer
    from personalization.sentiment.signals import read_message
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
    detector = load_detector(args.complaint_model)
    if detector is None:
        raise SystemExit(f"{args.complaint_model} did not load as the complaint detector")
    encoder = shared_encoder()
    totals: dict[str, list[float]] = {
        "p50": [],
        "p99": [],
        "complaint p50": [],
        "complaint p99": [],
    }
    for run in range(args.runs):
        timings, complaint_timings = [], []
        for n in range(args.messages):
            # A new text each time: the encoder's cache of recent texts must not answer.
            text = f"{MESSAGES[n % len(MESSAGES)]} (run {run}, message {n})"
            started = time.perf_counter()
            vector = encoder.encode([text])  # once per message, as the NLU pipeline does
            scores, labels = scorer.predict([text], vector)
            before_complaint = time.perf_counter()
            probability = float(detector.probabilities([text], vector)[0])
            read_message(float(scores[0]), labels[0], probability, detector.threshold)
            finished = time.perf_counter()
            timings.append((finished - started) * 1000)
            complaint_timings.append((finished - before_complaint) * 1000)
        for name, values in (("", timings), ("complaint ", complaint_timings)):
            values.sort()
            totals[f"{name}p50"].append(values[len(values) // 2])
            totals[f"{name}p99"].append(values[int(len(values) * 0.99)])
    print(f"trained scorer from {origin}, one core, {args.messages} messages × {args.runs} runs")
    print(
        f"sentiment and complaint together: p50 {statistics.median(totals['p50']):.1f} ms, "
        f"p99 {statistics.median(totals['p99']):.1f} ms per message (MiniLM included)"
    )
    print(
        f"of which the complaint detector: p50 {statistics.median(totals['complaint p50']):.2f}"
        f" ms, p99 {statistics.median(totals['complaint p99']):.2f} ms"
    )


if __name__ == "__main__":
    main()
