"""Operators' command line: `python -m personalization COMMAND`, or the `personalization` script.

Exit codes: 0 success, 1 failure of the command itself, 2 bad usage, 3 store unavailable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from tqdm import tqdm

from personalization.demo_data import load_demo_customers
from personalization.embeddings import EncoderUnavailable, shared_encoder
from personalization.importer.transactions import ImportFormatError, Limits, TransactionImporter
from personalization.privacy import (
    ConversationStore,
    PrivacyError,
    erase_customer,
    export_customer,
)
from personalization.pseudonym import pseudonym_key_from_env
from personalization.recommender.evaluation import default_models, evaluate_models, load_split
from personalization.segments import Segmenter
from personalization.sentiment import LexiconScorer, load_scorer
from personalization.sentiment import training as sentiment_training
from personalization.sentiment.scorer import DEFAULT_MODEL_PATH
from personalization.sentiment.training import DatasetMissing, RatedTexts, load_ground_truth
from personalization.settings import ConfigurationError
from personalization.store import Database, StoreUnavailable
from personalization.store.customers import CustomerRepository
from personalization.store.migrate import MigrationError, applied_versions, migrate

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORE_UNAVAILABLE = 0, 1, 2, 3


class CommandError(RuntimeError):
    """The command cannot do what was asked; the message says why."""


class UsageError(RuntimeError):
    """The command was called in a way it cannot work; exit code 2."""


def _cmd_migrate(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    applied = migrate(db)
    return {
        "applied": [f"{m.version:04d}_{m.name}" for m in applied],
        "schema_version": max(applied_versions(db), default=0),
    }


def _cmd_demo_data(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    repo = CustomerRepository(db)
    loaded = load_demo_customers(repo, count=args.customers, seed=args.seed)
    return {"customers_loaded": loaded, "customers_total": repo.count()}


def _cmd_import_transactions(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    importer = TransactionImporter(
        db,
        pseudonym_key_from_env(),
        Limits(max_quantity=args.max_quantity, max_unit_price=Decimal(args.max_unit_price)),
    )
    show_progress = not args.no_progress and sys.stderr.isatty()
    with tqdm(
        total=args.file.stat().st_size if args.file.is_file() else 0,
        unit="B",
        unit_scale=True,
        desc="import",
        disable=not show_progress,
    ) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = importer.import_file(args.file, rejects_path=args.rejects, progress=progress)
    return report.as_dict()


def _cmd_segment(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    segmenter = Segmenter(db)
    if args.customer:
        assignment = segmenter.rescore(args.customer)
        if assignment is None:
            raise CommandError(
                f"{args.customer} cannot be re-scored: no orders, or no segmentation run yet"
            )
        return {
            "customer_id": assignment.customer_id,
            "segment": assignment.segment,
            "cluster": assignment.cluster,
            "rfm_scores": {"r": assignment.r, "f": assignment.f, "m": assignment.m},
            "recency_days": assignment.rfm.recency_days,
            "frequency": assignment.rfm.frequency,
            "monetary": round(assignment.rfm.monetary, 2),
        }
    try:
        result = segmenter.run(as_of=args.as_of, k_range=range(args.k_min, args.k_max + 1))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return result.summary()


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
    return {"leave_one_set_out": rows}


def _cmd_export(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    try:
        export = export_customer(db, args.customer, source="cli")
    except PrivacyError as exc:
        raise CommandError(str(exc)) from exc
    if args.output:
        args.output.write_text(json.dumps(export, indent=2, ensure_ascii=False))
        return {"customer_id": args.customer, "written_to": str(args.output)}
    print(json.dumps(export, indent=2, ensure_ascii=False))
    return {}


def _cmd_erase(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("erasure cannot be undone: add --yes to confirm")
        answer = input(f"Erase every record of {args.customer}? This cannot be undone [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return {"customer_id": args.customer, "erased": False}
    try:
        report = erase_customer(db, args.customer, ConversationStore.from_env(), source="cli")
    except PrivacyError as exc:
        raise CommandError(str(exc)) from exc
    except redis.RedisError as exc:
        raise CommandError(
            f"PostgreSQL data of {args.customer} was erased, but Redis failed ({exc}); "
            "run the command again once Redis is back"
        ) from exc
    return {"erased": True, **report.as_dict()}


def _cmd_evaluate(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    data = load_split(db, args.split_at)
    if not data.truth:
        raise CommandError(f"no purchases after {args.split_at.date()} to evaluate against")
    rows = evaluate_models(data, default_models())
    if not args.json:
        print(
            f"split at {args.split_at.date()}: {len(data.warm_users())} warm and "
            f"{len(data.cold_users())} cold customers with new purchases; "
            f"{len(data.items)} candidate products"
        )
        print(
            f"{'model':<24}{'customers':<10}{'P@10':>7}{'R@10':>7}{'NDCG@10':>9}"
            f"{'AUC':>7}{'coverage':>10}{'fit s':>7}"
        )
        for r in rows:
            print(
                f"{r['model']:<24}{r['customers']:<10}{r['precision@10']:>7.4f}"
                f"{r['recall@10']:>7.4f}{r['ndcg@10']:>9.4f}{r['auc']:>7.3f}"
                f"{r['coverage']:>10.3f}{r['fit_seconds']:>7.1f}"
            )
        return {}
    return {"split_at": args.split_at.isoformat(), "results": rows}


def _as_of(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="personalization", description="Personalization engine for the support assistant."
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cmd = commands.add_parser("migrate", help="apply pending database migrations")
    cmd.set_defaults(handler=_cmd_migrate)

    cmd = commands.add_parser("demo-data", help="load deterministic demo customers")
    cmd.add_argument("--customers", type=int, default=50, help="how many (default 50)")
    cmd.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    cmd.set_defaults(handler=_cmd_demo_data)

    cmd = commands.add_parser(
        "import-transactions",
        help="import an order export (CSV or .csv.gz in the Online Retail shape)",
        description="Validate and import an order export. Rejected rows are counted by reason "
        "and, with --rejects, written to a CSV. Re-running the same file changes nothing.",
    )
    cmd.add_argument("file", type=Path, help="the export, e.g. online_retail.csv.gz")
    cmd.add_argument("--rejects", type=Path, help="write rejected rows with their reason here")
    cmd.add_argument(
        "--max-quantity",
        type=int,
        default=Limits.max_quantity,
        help="larger quantities are rejected as outliers (default %(default)s)",
    )
    cmd.add_argument(
        "--max-unit-price",
        default=str(Limits.max_unit_price),
        help="higher unit prices are rejected as outliers (default %(default)s)",
    )
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    cmd.set_defaults(handler=_cmd_import_transactions)

    cmd = commands.add_parser(
        "segment",
        help="RFM scores and K-Means segments for every customer, or re-score one",
        description="Score every customer with orders (RFM quintiles), cluster them with "
        "K-Means (k by silhouette) and name their segments; prints the silhouette curve.",
    )
    cmd.add_argument("--customer", help="re-score only this customer with the latest model")
    cmd.add_argument(
        "--as-of",
        type=_as_of,
        help="reference date for recency (default: the day after the last order)",
    )
    cmd.add_argument("--k-min", type=int, default=2, help="smallest k tried (default 2)")
    cmd.add_argument("--k-max", type=int, default=8, help="largest k tried (default 8)")
    cmd.set_defaults(handler=_cmd_segment)

    cmd = commands.add_parser(
        "evaluate",
        help="compare recommenders on a temporal split (ours against the baselines)",
        description="Train popularity, item-kNN, implicit ALS and our hybrid LightFM on "
        "purchases before --split-at and score them on products each customer bought for "
        "the first time afterwards: precision@10, recall@10, NDCG@10, AUC, coverage.",
    )
    cmd.add_argument(
        "--split-at",
        type=_as_of,
        default=_as_of("2011-11-01"),
        help="train before, test from this date (default 2011-11-01)",
    )
    cmd.set_defaults(handler=_cmd_evaluate)

    cmd = commands.add_parser("export", help="everything stored about a customer, as JSON")
    cmd.add_argument("customer", help="the pseudonymous customer id")
    cmd.add_argument("--output", type=Path, help="write to this file instead of the screen")
    cmd.set_defaults(handler=_cmd_export)

    cmd = commands.add_parser(
        "erase",
        help="erase a customer everywhere: profile, orders, feedback, conversations",
        description="Delete the customer's profile and every record keyed to it, the "
        "conversation events in PostgreSQL and the conversation trackers in Redis "
        "(REDIS_URL, TRACKER_KEY_PREFIX). The consent audit keeps the erasure itself.",
    )
    cmd.add_argument("customer", help="the pseudonymous customer id")
    cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    cmd.set_defaults(handler=_cmd_erase)

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
    return parser


def _print_result(result: dict[str, Any], as_json: bool) -> None:
    if not result:  # the command printed its own output
        return
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "needs_db", True):
        try:
            _print_result(args.handler(args), args.json)
            return EXIT_OK
        except (CommandError, EncoderUnavailable) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
    handler: Callable[[argparse.Namespace, Database], dict[str, Any]] = args.handler
    try:
        db = Database.from_env()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        _print_result(handler(args, db), args.json)
        return EXIT_OK
    except StoreUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORE_UNAVAILABLE
    except (ConfigurationError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (MigrationError, ImportFormatError, CommandError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        db.close()
