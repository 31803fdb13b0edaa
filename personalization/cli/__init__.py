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

from personalization.cli import (
    churn,
    data,
    experiments,
    operations,
    recommend,
    sentiment,
    tokens,
)
from personalization.cli.common import CommandError, UsageError
from personalization.embeddings import EncoderUnavailable
from personalization.importer.transactions import ImportFormatError
from personalization.recommender.registry import RegistryError
from personalization.settings import ConfigurationError, DatabaseSettings
from personalization.store import Database, StoreUnavailable
from personalization.store.migrate import MigrationError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORE_UNAVAILABLE = 0, 1, 2, 3


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="personalization", description="Personalization engine for the support assistant."
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (churn, data, experiments, operations, recommend, sentiment, tokens):
        module.register(commands)
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
        db = Database(DatabaseSettings.from_env().for_batch())
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
    except (MigrationError, ImportFormatError, CommandError, RegistryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        db.close()
