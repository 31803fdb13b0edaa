"""Commands for the sentiment scorer: score a message, train, evaluate against VADER."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from personalization.cli.common import CommandError
from personalization.embeddings import shared_encoder
from personalization.sentiment import LexiconScorer, load_scorer
from personalization.sentiment import training as sentiment_training
from personalization.sentiment.scorer import DEFAULT_MODEL_PATH
from personalization.sentiment.training import DatasetMissing, RatedTexts, load_ground_truth


def _cmd_sentiment(args: argparse.Namespace) -> dict[str, Any]:
    scorer = LexiconScorer() if args.lexicon_only else load_scorer(args.model)
    result = scorer.score(args.text)
    return {"score": result.score, "label": result.label, "scorer": scorer.name}


def _sentiment_sets(args: argparse.Namespace) -> list[RatedTexts]:
    try:
        return load_ground_truth(args.datasets)
    except DatasetMissing as exc:
        raise CommandError(str(exc)) from exc


def _cmd_sentiment_train(args: argparse.Namespace) -> dict[str, Any]:
    scorer = sentiment_training.train(
        _sentiment_sets(args), shared_encoder(), cache_dir=args.cache_dir
    )
    scorer.save(args.model)
    return {"model": str(args.model), **scorer.meta}


def _cmd_sentiment_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    rows = sentiment_training.evaluate(
        _sentiment_sets(args), shared_encoder(), cache_dir=args.cache_dir
    )
    if not args.json:
        header = f"{'set':<22}{'texts':>7}  {'macro-F1 VADER / lexicon / ours':>32}"
        header += f"  {'Pearson r VADER / lexicon / ours':>34}"
        print(header)
        for r in rows:
            print(
                f"{r['set']:<22}{r['texts']:>7}  "
                f"{r['vader_macro_f1']:>10.3f} {r['lexicon_macro_f1']:>9.3f} "
                f"{r['ours_macro_f1']:>9.3f}  {r['vader_pearson_r']:>12.3f} "
                f"{r['lexicon_pearson_r']:>9.3f} {r['ours_pearson_r']:>9.3f}"
            )
        for r in rows:
            blend = r["ours_blend"]
            if blend:
                print(
                    f"  {r['set']}: VADER weight {blend['vader_weight']:g}, label threshold "
                    f"{blend['threshold']:g}, chosen on the other sets"
                )
        return {}
    return {"leave_one_set_out": rows}


def register(commands: Any) -> None:
    cmd = commands.add_parser("sentiment", help="score one message: score in [-1, 1] and label")
    cmd.add_argument("text")
    cmd.add_argument("--model", type=Path, help=f"trained model (default {DEFAULT_MODEL_PATH})")
    cmd.add_argument("--lexicon-only", action="store_true", help="VADER and the support lexicon")
    cmd.set_defaults(handler=_cmd_sentiment, needs_db=False)

    for name, handler, text in (
        (
            "sentiment-train",
            _cmd_sentiment_train,
            "fit the sentiment model to the human ratings in SHARED_DATASETS",
        ),
        (
            "sentiment-evaluate",
            _cmd_sentiment_evaluate,
            "compare VADER, the lexicon and ours, leaving one rated set out at a time",
        ),
    ):
        cmd = commands.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--datasets", type=Path, help="default $SHARED_DATASETS or ../shared/datasets"
        )
        cmd.add_argument(
            "--model",
            type=Path,
            default=DEFAULT_MODEL_PATH,
            help="where the model is written (default %(default)s)",
        )
        cmd.add_argument(
            "--cache-dir",
            type=Path,
            default=Path(".cache") / "embeddings",
            help="embedding cache (default %(default)s)",
        )
        cmd.set_defaults(handler=handler, needs_db=False)
