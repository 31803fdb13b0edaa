"""Choose the NLU pipeline by measurement on BANKING77: accuracy, macro-F1, training time, latency.

Run:  .venv/bin/python -m benchmarks.banking77_pipelines [--pipelines ours,sparse,default]
      [--default-epochs 100] [--limit-per-intent N]

BANKING77's ``train.csv`` (in SHARED_DATASETS; 10,003 real support queries, 77 intents) is
split 90/10 per intent with a fixed seed. Each pipeline is trained with ``rasa train nlu`` on
the 90 % in a scratch directory and scored on the 10 %: accuracy and macro-F1 of the top
intent, wall time of training, and p50/p99 parse latency through a loaded Agent. Nothing is
written into the repository.

Pipelines:
- ours: word 1–2-gram counts plus MiniLM sentence embeddings scaled ×2
  (``components.sentence_embeddings.MiniLmFeaturizer``), and a calibrated linear SVM
  (``components.linear_intent_classifier.LinearIntentClassifier``);
- ours-logreg: word and character n-grams plus MiniLM ×5, Rasa's LogisticRegressionClassifier;
- sparse: the same without MiniLM (the bot's pipeline before this benchmark);
- default: the pipeline ``rasa init`` writes (DIET, 100 epochs unless --default-epochs);
- bot: the bot's config.yml as it is (ours plus the leading-pleasantry remover, sentiment and
  entity extraction), without its FallbackClassifier.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from personalization.settings import shared_datasets_dir

_COUNTS = [
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4},
]
PIPELINES: dict[str, list[dict[str, Any]]] = {
    "ours": [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer", "min_ngram": 1, "max_ngram": 2},
        {"name": "components.sentence_embeddings.MiniLmFeaturizer", "scale": 2.0},
        {"name": "components.linear_intent_classifier.LinearIntentClassifier", "C": 0.5},
    ],
    "ours-logreg": [
        {"name": "WhitespaceTokenizer"},
        *_COUNTS,
        {"name": "components.sentence_embeddings.MiniLmFeaturizer", "scale": 5.0},
        {"name": "LogisticRegressionClassifier", "random_state": 42},
    ],
    "sparse": [
        {"name": "WhitespaceTokenizer"},
        *_COUNTS,
        {"name": "LogisticRegressionClassifier", "max_iter": 1000, "random_state": 42},
    ],
    "default": [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
        {"name": "EntitySynonymMapper"},
        {"name": "ResponseSelector", "epochs": 100, "constrain_similarities": True},
        {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
    ],
}


def bot_pipeline() -> list[dict[str, Any]]:
    """The bot's own pipeline (config.yml) without the fallback, which would turn an unsure
    right answer into a wrong one here: the other pipelines have none either."""
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yml").read_text())
    return [step for step in config["pipeline"] if step["name"] != "FallbackClassifier"]


def split(seed: int = 42, limit: int | None = None) -> tuple[list[tuple[str, str]], ...]:
    path = shared_datasets_dir() / "banking77" / "train.csv"
    by_intent: dict[str, list[str]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_intent[row["category"]].append(row["text"].strip())
    rng = random.Random(seed)
    train, test = [], []
    for intent in sorted(by_intent):
        texts = sorted(set(by_intent[intent]))
        rng.shuffle(texts)
        if limit:
            texts = texts[:limit]
        cut = max(1, round(len(texts) * 0.1))
        test += [(t, intent) for t in texts[:cut]]
        train += [(t, intent) for t in texts[cut:]]
    return train, test


def _write_project(root: Path, train: list[tuple[str, str]], pipeline: list[dict]) -> None:
    examples: dict[str, list[str]] = defaultdict(list)
    for text, intent in train:
        examples[intent].append(text)
    nlu = {
        "version": "3.1",
        "nlu": [
            {"intent": intent, "examples": "".join(f"- {t}\n" for t in texts)}
            for intent, texts in sorted(examples.items())
        ],
    }
    (root / "data").mkdir(parents=True)
    (root / "data" / "nlu.yml").write_text(yaml.safe_dump(nlu, allow_unicode=True))
    config = {"recipe": "default.v1", "language": "en", "pipeline": pipeline, "policies": []}
    (root / "config.yml").write_text(yaml.safe_dump(config))


def _macro_f1(truth: list[str], predicted: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, average="macro"))


async def _score(model: str, test: list[tuple[str, str]]) -> tuple[list[str], list[float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    await agent.parse_message("warm up")
    predicted, latencies = [], []
    for text, _ in test:
        started = time.perf_counter()
        parsed = await agent.parse_message(text)
        latencies.append((time.perf_counter() - started) * 1000)
        predicted.append(parsed["intent"]["name"])
    return predicted, latencies


def run(name: str, train: list, test: list, default_epochs: int) -> dict[str, Any]:
    from rasa.model_training import train_nlu

    steps = bot_pipeline() if name == "bot" else PIPELINES[name]
    pipeline = [dict(step) for step in steps]
    for step in pipeline:
        if "epochs" in step:
            step["epochs"] = default_epochs
    with tempfile.TemporaryDirectory(prefix=f"banking77-{name}-") as scratch:
        root = Path(scratch)
        _write_project(root, train, pipeline)
        started = time.monotonic()
        model = train_nlu(
            str(root / "config.yml"),
            str(root / "data"),
            str(root / "models"),
            fixed_model_name=name,
        )
        seconds = time.monotonic() - started
        predicted, latencies = asyncio.run(_score(model, test))
    truth = [intent for _, intent in test]
    latencies.sort()
    return {
        "pipeline": name,
        "accuracy": sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth),
        "macro_f1": _macro_f1(truth, predicted),
        "train_seconds": seconds,
        "parse_p50_ms": statistics.median(latencies),
        "parse_p99_ms": latencies[int(len(latencies) * 0.99)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", default="ours,sparse,default")
    parser.add_argument("--default-epochs", type=int, default=100)
    parser.add_argument("--limit-per-intent", type=int, help="fewer examples, for a quick look")
    args = parser.parse_args()
    train, test = split(limit=args.limit_per_intent)
    print(f"BANKING77 split 90/10 per intent (seed 42): {len(train)} train, {len(test)} test")
    rows = [run(n, train, test, args.default_epochs) for n in args.pipelines.split(",")]
    header = f"{'pipeline':<10}{'accuracy':>10}{'macro-F1':>10}{'train s':>9}"
    print(header + f"{'p50 ms':>8}{'p99 ms':>8}")
    for r in rows:
        print(
            f"{r['pipeline']:<10}{r['accuracy']:>10.4f}{r['macro_f1']:>10.4f}"
            f"{r['train_seconds']:>9.0f}{r['parse_p50_ms']:>8.1f}{r['parse_p99_ms']:>8.1f}"
        )


if __name__ == "__main__":
    main()
