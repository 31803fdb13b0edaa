"""Commands over the shop data: schema, demo data, import, segments, data rights."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from tqdm import tqdm

from personalization.cli.common import CommandError, UsageError, as_of
from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.importer.transactions import Limits, TransactionImporter
from personalization.privacy import (
    ConversationStore,
    PrivacyError,
    erase_customer,
    export_customer,
)
from personalization.pseudonym import pseudonym_key_from_env
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import ModelRegistry
from personalization.segments import Segmenter
from personalization.settings import ConfigurationError, IdentitySettings
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from personalization.store.migrate import applied_versions, migrate


def _cmd_migrate(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    applied = migrate(db)
    return {
        "applied": [f"{m.version:04d}_{m.name}" for m in applied],
        "schema_version": max(applied_versions(db), default=0),
    }


def _identity_key() -> bytes | None:
    """IDENTITY_KEY when set, so an erasure also removes failed sign-ins against the customer."""
    try:
        return IdentitySettings.from_env().binding_key
    except ConfigurationError:
        return None


def _cmd_demo_data(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    key = pseudonym_key_from_env()  # numbers the orders; checked before anything is written
    repo = CustomerRepository(db)
    loaded = load_demo_customers(repo, count=args.customers, seed=args.seed)
    customers = demo_customers(args.customers, args.seed)
    shop = load_demo_shop(db, customers, seed=args.seed, key=key)
    return {
        "customers_loaded": loaded,
        "customers_total": repo.count(),
        "products": shop["products"],
        "orders": shop["orders"],
        "help_articles_changed": shop["articles_changed"],
    }


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
        report = erase_customer(
            db,
            args.customer,
            ConversationStore.from_env(),
            source="cli",
            recommendations=RecommendationCache.from_env(),
            registry=ModelRegistry.from_env(),
            sign_in_key=_identity_key(),
        )
    except PrivacyError as exc:
        raise CommandError(str(exc)) from exc
    except redis.RedisError as exc:
        raise CommandError(
            f"PostgreSQL data of {args.customer} was erased, but Redis failed ({exc}); "
            "run the command again once Redis is back"
        ) from exc
    return {"erased": True, **report.as_dict()}


def register(commands: Any) -> None:
    cmd = commands.add_parser("migrate", help="apply pending database migrations")
    cmd.set_defaults(handler=_cmd_migrate)

    cmd = commands.add_parser(
        "demo-data", help="load the demo shop: customers, catalogue, orders, help articles"
    )
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
        type=as_of,
        help="reference date for recency (default: the day after the last order)",
    )
    cmd.add_argument("--k-min", type=int, default=2, help="smallest k tried (default 2)")
    cmd.add_argument("--k-max", type=int, default=8, help="largest k tried (default 8)")
    cmd.set_defaults(handler=_cmd_segment)

    cmd = commands.add_parser("export", help="everything stored about a customer, as JSON")
    cmd.add_argument("customer", help="the pseudonymous customer id")
    cmd.add_argument("--output", type=Path, help="write to this file instead of the screen")
    cmd.set_defaults(handler=_cmd_export)

    cmd = commands.add_parser(
        "erase",
        help="erase a customer everywhere: profile, orders, feedback, conversations",
        description="Delete the customer's profile and every record keyed to it, the "
        "conversation events in PostgreSQL, the conversation trackers and cached "
        "recommendations in Redis (REDIS_URL, TRACKER_KEY_PREFIX), and the customer's row in "
        "every stored recommender version (RECOMMENDER_DIR). The consent audit keeps the "
        "erasure itself.",
    )
    cmd.add_argument("customer", help="the pseudonymous customer id")
    cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    cmd.set_defaults(handler=_cmd_erase)
