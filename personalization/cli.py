"""Operators' command line: `python -m personalization COMMAND`, or the `personalization` script.

Exit codes: 0 success, 1 failure of the command itself, 2 bad usage, 3 store unavailable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from personalization.demo_data import load_demo_customers
from personalization.settings import ConfigurationError
from personalization.store import Database, StoreUnavailable
from personalization.store.customers import CustomerRepository
from personalization.store.migrate import MigrationError, applied_versions, migrate

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORE_UNAVAILABLE = 0, 1, 2, 3


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
    return parser


def _print_result(result: dict[str, Any], as_json: bool) -> None:
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
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        db.close()
