"""Commands for churn risk: validate the model on a later period, explain one customer."""

from __future__ import annotations

import argparse
from typing import Any

from personalization.churn.features import load_history
from personalization.churn.repository import ChurnScores
from personalization.churn.validation import validate
from personalization.cli.common import CommandError
from personalization.store import Database


def _cmd_validate(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    history = load_history(db)
    if len(history.order_time) == 0:
        raise CommandError("no orders to validate on: import the order export first")
    try:
        report = validate(history)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        return report
    fit, test = report["fit"], report["test"]
    print(
        f"fitted on {fit['customers']} customers known on {fit['cutoff']} (churn rate "
        f"{fit['churn_rate']:.1%}); tested on {test['customers']} known on {test['cutoff']} "
        f"(churn rate {test['churn_rate']:.1%}); churn = no order in the next 90 days"
    )
    print(f"{'model':<40}{'AUC':>8}{'PR-AUC':>9}")
    for row in report["rows"]:
        print(f"{row['model']:<40}{row['auc']:>8.3f}{row['pr_auc']:>9.3f}")
    return {}


def _cmd_explain(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    stored = ChurnScores(db).for_customer(args.customer)
    if stored is None:
        raise CommandError(
            f"no churn score for {args.customer}: no orders, or `personalization segment` "
            "has not run since they ordered"
        )
    if args.json:
        return {"customer_id": args.customer, **stored}
    print(
        f"{args.customer}: churn risk {stored['risk']:.0%} (no order in the next 90 days), "
        f"model fitted at {stored['model_cutoff']}, scored {stored['scored_at'][:10]}"
    )
    for factor in stored["factors"]:
        print(f"  {factor['contribution']:+.2f}  {factor['description']}")
    return {}


def register(commands: Any) -> None:
    churn = commands.add_parser("churn", help="churn risk: validate the model, explain a score")
    actions = churn.add_subparsers(dest="churn_command", required=True, metavar="ACTION")
    cmd = actions.add_parser(
        "validate",
        help="fit on 2011-06-01, test on 2011-09-01: AUC and PR-AUC against an RFM rule",
    )
    cmd.set_defaults(handler=_cmd_validate)
    cmd = actions.add_parser(
        "explain", help="one customer's stored risk and the factors that move it most"
    )
    cmd.add_argument("customer")
    cmd.set_defaults(handler=_cmd_explain)
