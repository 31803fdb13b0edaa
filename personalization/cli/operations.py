"""Commands of the operators' loop: gated retraining and drift."""

from __future__ import annotations

import argparse
from typing import Any

from personalization.cli.common import CommandError
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.gate import HOLDOUT_DAYS, TOLERANCE, retrain
from personalization.recommender.registry import ModelRegistry
from personalization.segments import Segmenter
from personalization.store import Database


def _cmd_retrain(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    try:
        segments = Segmenter(db).run().summary()
        decision = retrain(
            db,
            ModelRegistry.from_env(),
            RecommendationCache.from_env(),
            holdout_days=args.holdout_days,
            tolerance=args.tolerance,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    result = {
        "segments": {"model_version": segments["model_version"], **segments["segments"]},
        **decision.as_dict(),
    }
    if args.json:
        return result
    print(f"segments rebuilt: {segments['model_version']} ({segments['customers']} customers)")
    print(
        f"holdout: purchases from {decision.holdout_from.date()} "
        f"({decision.holdout_customers['warm']} warm, {decision.holdout_customers['cold']} "
        "cold customers)"
    )
    for group in ("warm", "cold"):
        current = (decision.current or {}).get(group)
        print(
            f"  NDCG@10 {group}: candidate {decision.candidate.get(group, float('nan')):.4f}"
            + (f", current {current:.4f}" if current is not None else "")
        )
    if decision.promoted:
        print(f"promoted: {decision.new_version} is active ({decision.reason})")
    else:
        print(f"kept {decision.current_version}: {decision.reason}")
    return {}


def register(commands: Any) -> None:
    cmd = commands.add_parser(
        "retrain",
        help="rebuild the segments and the recommender; switch the recommender in only if "
        "it is not worse on a time-based holdout",
        description="Rebuild the segments from the latest orders, then train a candidate "
        "recommender and score it against the current one on the purchases of the last "
        "--holdout-days. The candidate goes live only if no customer group (warm, cold) "
        "loses more than --tolerance of its NDCG@10; otherwise the current model stays and "
        "the reason is printed. Exit code 0 either way.",
    )
    cmd.add_argument("--holdout-days", type=int, default=HOLDOUT_DAYS, help="default %(default)s")
    cmd.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help="relative NDCG@10 loss still counted as not worse (default %(default)s)",
    )
    cmd.set_defaults(handler=_cmd_retrain)
