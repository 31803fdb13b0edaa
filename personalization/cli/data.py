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

from personalization.churn.refresh import refresh as churn_refresh
from personalization.cli.common import CommandError, UsageError, as_of
from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.importer.transactions import Limits, TransactionImporter
from personalization.jobs.erasure import ErasureInbox, ErasureJobs, ErasureServices
from personalization.jobs.retention import Retention
from personalization.privacy import PrivacyError, export_customer
from personalization.pseudonym import pseudonym_key_from_env
from personalization.segments import Segmenter
from personalization.settings import (
    ConfigurationError,
    ErasureSettings,
    RetentionSettings,
)
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from personalization.store.migrate import applied_versions, migrate


def _cmd_migrate(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    applied = migrate(db)
    return {
        "applied": [f"{m.version:04d}_{m.name}" for m in applied],
        "schema_version": max(applied_versions(db), default=0),
    }


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
    return {**result.summary(), "churn": churn_refresh(db, result.model.as_of)}


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


def _erasure_jobs(db: Database) -> ErasureJobs:
    return ErasureJobs(db, ErasureSettings.from_env(), ErasureServices.from_env())


def _cmd_erase(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("erasure cannot be undone: add --yes to confirm")
        answer = input(f"Erase every record of {args.customer}? This cannot be undone [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return {"customer_id": args.customer, "erased": False}
    jobs = _erasure_jobs(db)
    if CustomerRepository(db).get(args.customer) is None and not jobs.open_job_for(args.customer):
        raise CommandError(f"no customer {args.customer}")
    reference = jobs.request(args.customer, set(), "cli")
    if not jobs.run_now(reference):  # the worker has it in hand: wait for its result
        jobs.wait_for(reference, args.wait)
    view = jobs.view(reference)
    if view is None:
        raise CommandError(f"erasure job {reference} disappeared")
    if view.status != "done":
        raise CommandError(
            f"erasure job {reference} is {view.status} ({view.last_error or 'in progress'}); "
            "the worker retries it, or run `personalization erasure retry "
            f"{reference}` once the stores are back"
        )
    details = view.as_dict()
    counts = details.pop("result")
    counts.setdefault("redis_keys_deleted", "not configured (REDIS_URL unset)")
    return {"erased": True, "customer_id": args.customer, **details, **counts}


def _cmd_erasure_status(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    jobs = ErasureJobs(db, ErasureSettings.from_env())
    if args.reference:
        view = jobs.view(args.reference)
        if view is None:
            raise CommandError(f"no erasure job {args.reference}")
        return view.as_dict()
    counts = jobs.counts_by_status()
    try:
        waiting = ErasureInbox(ErasureSettings.from_env()).size()
    except (ConfigurationError, redis.RedisError):
        waiting = None
    return {"jobs": counts, "waiting_in_redis": waiting}


def _cmd_erasure_retry(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    jobs = _erasure_jobs(db)
    references = jobs.retry_failed(args.reference)
    if args.reference and not references:
        raise CommandError(f"{args.reference} is not a failed erasure job")
    for reference in references:
        jobs.run_now(reference)
    return {
        "retried": references,
        "status": {r: (jobs.status(r) or "unknown") for r in references},
    }


def _cmd_retention_run(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    return {"deleted_or_blanked": Retention(db, RetentionSettings.from_env()).run()}


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
        help="RFM scores, K-Means segments and churn risk for every customer, or re-score one",
        description="Score every customer with orders (RFM quintiles), cluster them with "
        "K-Means (k by silhouette) and name their segments; prints the silhouette curve. "
        "Then re-fit the churn model and store every customer's churn risk.",
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
        help="erase a customer everywhere now: profile, orders, feedback, conversations",
        description="Record an erasure job and run it at once (as the worker would), then "
        "print what was deleted: the profile and every record keyed to it, every conversation "
        "of the customer in PostgreSQL and Redis (trackers and locks), cached "
        "recommendations, and the customer's row in every stored recommender version "
        "(RECOMMENDER_DIR). The consent audit keeps the erasure itself, with the counts.",
    )
    cmd.add_argument("customer", help="the pseudonymous customer id")
    cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    cmd.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait when the worker already runs the job (default %(default)s)",
    )
    cmd.set_defaults(handler=_cmd_erase)

    erasure = commands.add_parser("erasure", help="erasure jobs: status and retries")
    actions = erasure.add_subparsers(dest="erasure_command", required=True, metavar="ACTION")
    cmd = actions.add_parser("status", help="one job by reference, or counts of all jobs")
    cmd.add_argument("reference", nargs="?", help="the reference given to the customer")
    cmd.set_defaults(handler=_cmd_erasure_status)
    cmd = actions.add_parser(
        "retry", help="run failed jobs (or one) again now, with a fresh set of attempts"
    )
    cmd.add_argument("reference", nargs="?", help="only this job")
    cmd.set_defaults(handler=_cmd_erasure_retry)

    retention = commands.add_parser("retention", help="delete records past their retention")
    actions = retention.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    cmd = actions.add_parser(
        "run",
        help="apply the retention rules once and print the counts",
        description="Delete events, tickets, feedback, dead-lettered events and finished "
        "erasure jobs older than their periods (EVENT_RETENTION_DAYS, TICKET_RETENTION_DAYS, "
        "FEEDBACK_RETENTION_DAYS, DEAD_LETTER_RETENTION_DAYS, ERASURE_JOB_RETENTION_DAYS), and "
        "remove the words of opted-out customers' messages older than "
        "OPTED_OUT_TEXT_RETENTION_HOURS. The worker does this every RETENTION_INTERVAL_S.",
    )
    cmd.set_defaults(handler=_cmd_retention_run)
