"""Commands for the mood signals: score a message, train the sentiment scorer and the complaint
detector, and measure both against VADER."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from personalization.cli.common import CommandError
from personalization.embeddings import shared_encoder
from personalization.sentiment import (
    LexiconScorer,
    complaint_training,
    load_scorer,
    unhappiness_report,
)
from personalization.sentiment import training as sentiment_training
from personalization.sentiment.complaint import DEFAULT_MODEL_PATH as DEFAULT_COMPLAINT_MODEL
from personalization.sentiment.complaint import load_detector
from personalization.sentiment.scorer import DEFAULT_MODEL_PATH
from personalization.sentiment.training import DatasetMissing, RatedTexts, load_ground_truth


def _cmd_sentiment(args: argparse.Namespace) -> dict[str, Any]:
    scorer = LexiconScorer() if args.lexicon_only else load_scorer(args.model)
    result = scorer.score(args.text)
    answer: dict[str, Any] = {"score": result.score, "label": result.label, "scorer": scorer.name}
    detector = None if args.lexicon_only else load_detector(args.complaint_model)
    if detector is not None:
        probability = float(detector.probabilities([args.text])[0])
        answer["complaint"] = round(probability, 4)
        answer["complaint_threshold"] = detector.threshold
    return answer


def _sentiment_sets(args: argparse.Namespace) -> list[RatedTexts]:
    """The VADER sets: adding tweeteval lifted tweets but lowered movie reviews
    (docs/models.md), so the scorer the bot uses is fitted without it."""
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


def _cmd_complaint_train(args: argparse.Namespace) -> dict[str, Any]:
    try:
        data = complaint_training.load_complaints(args.datasets)
    except DatasetMissing as exc:
        raise CommandError(str(exc)) from exc
    detector = complaint_training.train(data, shared_encoder(), cache_dir=args.cache_dir)
    detector.save(args.model)
    return {"model": str(args.model), **detector.meta}


def _cmd_mood_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    encoder = shared_encoder()
    scorer = load_scorer(args.sentiment_model)
    try:
        complaints = unhappiness_report.complaint_rows(
            complaint_training.load_complaints(args.datasets), encoder, scorer, args.cache_dir
        )
        tweeteval = unhappiness_report.tweeteval_rows(encoder, args.cache_dir, args.datasets)
        vader_sets = unhappiness_report.vader_set_rows(encoder, args.cache_dir, args.datasets)
    except DatasetMissing as exc:
        raise CommandError(str(exc)) from exc
    report = {"complaints": complaints, "tweeteval": tweeteval, "vader_sets": vader_sets}
    report["held_out_chat"] = unhappiness_report.held_out_chat_rows(
        complaint_training.load_complaints(args.datasets),
        encoder,
        scorer,
        complaints["threshold"],
        args.cache_dir,
    )
    if args.tried:
        report["tried"] = unhappiness_report.tried_rows(
            complaint_training.load_complaints(args.datasets), encoder, args.cache_dir
        )
    if args.json:
        return report
    _print_mood_report(report)
    return {}


def _print_mood_report(report: dict[str, Any]) -> None:
    complaints = report["complaints"]
    for key, title in (
        ("cross_validated", f"10-fold cross-validation, {complaints['tweets']} tweets"),
        (
            "industry_left_out",
            f"one industry left out at a time, {complaints['industry_left_out_scored']} tweets",
        ),
    ):
        print(f"complaint detection, {title}")
        print(f"  {'scorer':<58}{'macro-F1':>9}{'precision':>10}{'recall':>8}")
        for row in complaints[key]:
            print(
                f"  {row['scorer']:<58}{row['macro_f1']:>9.3f}{row['precision']:>10.3f}"
                f"{row['recall']:>8.3f}"
            )
    print(
        "  per industry left out (macro-F1 at p >= 0.5): "
        + ", ".join(f"{k} {v['macro_f1']:.3f}" for k, v in complaints["per_industry"].items())
        + f"; mean {complaints['mean_per_industry_macro_f1']:.3f}"
    )
    if report["held_out_chat"]:
        print("the bot's held-out NLU messages (tests/nlu/heldout.yml): share read as")
        print(f"  {'intent':<24}{'messages':>9}{'complaint':>11}{'upset':>8}")
        for row in report["held_out_chat"]:
            print(
                f"  {row['intent']:<24}{row['messages']:>9}{row['complaint']:>11.0%}"
                f"{row['upset']:>8.0%}"
            )
    tweeteval = report["tweeteval"]
    print(f"three classes, {tweeteval['held_out_tweets']} held-out tweeteval tweets")
    for row in tweeteval["rows"]:
        print(
            f"  {row['scorer']:<58}macro-F1 {row['macro_f1']:.3f}  "
            f"macro-recall {row['macro_recall']:.3f}"
        )
    if "tried" in report:
        print("complaint detectors tried (macro-F1 at p >= 0.5; random tweets flagged in CV)")
        for row in report["tried"]:
            print(
                f"  {row['recipe']:<58}CV {row['cross_validated_macro_f1']:.3f}  industry "
                f"left out {row['industry_left_out_macro_f1']:.3f}  random flagged "
                f"{row['random_tweets_flagged']:.1%}"
            )
    print("each set left out of the sentiment scorer's training in turn (macro-F1)")
    print(f"  {'set':<22}{'texts':>7}{'VADER':>8}{'VADER sets only':>17}{'with tweeteval':>16}")
    for row in report["vader_sets"]:
        before = row["vader_sets_only_macro_f1"]
        print(
            f"  {row['set']:<22}{row['texts']:>7}{row['vader_macro_f1']:>8.3f}"
            f"{(f'{before:.3f}' if before is not None else '-'):>17}"
            f"{row['with_tweeteval_macro_f1']:>16.3f}"
        )


def register(commands: Any) -> None:
    cmd = commands.add_parser("sentiment", help="score one message: score in [-1, 1] and label")
    cmd.add_argument("text")
    cmd.add_argument("--model", type=Path, help=f"trained model (default {DEFAULT_MODEL_PATH})")
    cmd.add_argument("--lexicon-only", action="store_true", help="VADER and the support lexicon")
    cmd.add_argument(
        "--complaint-model",
        type=Path,
        help=f"complaint detector (default {DEFAULT_COMPLAINT_MODEL})",
    )
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

    for name, handler, text, model_flag, default_model in (
        (
            "complaint-train",
            _cmd_complaint_train,
            "fit the complaint detector to the labelled tweets in SHARED_DATASETS",
            "--model",
            DEFAULT_COMPLAINT_MODEL,
        ),
        (
            "mood-evaluate",
            _cmd_mood_evaluate,
            "complaint detection, three-class sentiment and the VADER sets: VADER, the "
            "sentiment scorer and the complaint detector on the same rows",
            "--sentiment-model",
            DEFAULT_MODEL_PATH,
        ),
    ):
        cmd = commands.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--datasets", type=Path, help="default $SHARED_DATASETS or ../shared/datasets"
        )
        cmd.add_argument(
            model_flag,
            type=Path,
            default=default_model,
            help="the model file (default %(default)s)",
        )
        cmd.add_argument(
            "--cache-dir",
            type=Path,
            default=Path(".cache") / "embeddings",
            help="embedding cache (default %(default)s)",
        )
        if name == "mood-evaluate":
            cmd.add_argument(
                "--tried",
                action="store_true",
                help="also measure the complaint detectors tried beside ours (about 6 min)",
            )
        cmd.set_defaults(handler=handler, needs_db=False)
