"""Commands of the operators' loop: gated retraining and drift."""

from __future__ import annotations

import argparse
from typing import Any

from personalization.cli.common import CommandError
from personalization.drift import measures
from personalization.drift.report import DriftReport, drift_report, save_reference
from personalization.experiments.simulation import EmptyPopulation
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.gate import HOLDOUT_DAYS, TOLERANCE, retrain
from personalization.recommender.registry import ModelRegistry
from personalization.segments import Segmenter
from personalization.simulated_traffic import remove_traffic, write_traffic
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


def _cmd_drift(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    if args.save_reference:
        reference = save_reference(db, args.days, args.reason)
        return {"saved_reference": reference, "days": args.days}
    try:
        report = drift_report(db, args.days)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        result = report.as_dict()
    else:
        print_drift(report)
        result = {}
    if args.fail_on_drift and report.moved:
        raise CommandError(f"moved beyond the threshold: {', '.join(report.moved)}")
    return result


def print_drift(report: DriftReport) -> None:
    ref = report.reference
    print(
        f"last {(report.current_to - report.current_from).days} days against "
        f"{ref.window_from.date()} to {ref.window_to.date()} ({ref.reason})"
    )
    print(f"{'signal':<22}{'ref n':>8}{'now n':>8}{'PSI':>8}  {'test':<24}{'p':>9}  verdict")
    for s in report.signals:
        verdict = "MOVED" if s.moved else "stable"
        if s.psi is None:
            verdict = "n/a"
        psi = "-" if s.psi is None else f"{s.psi:.3f}"
        p = "-" if s.p_value is None else f"{s.p_value:.2g}"
        print(
            f"{s.signal:<22}{s.reference_n:>8}{s.current_n:>8}{psi:>8}  {s.test:<24}{p:>9}  "
            f"{verdict}: {s.note}"
        )
    print(
        f"moved: PSI >= {measures.PSI_MOVED}, or p < {measures.P_VALUE} with a KS distance >= "
        f"{measures.KS_MIN_DISTANCE} or a rate changed by >= "
        f"{measures.RATE_MIN_RELATIVE_CHANGE:.0%}"
    )


def _cmd_demo_traffic(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    if args.remove:
        return {"removed": remove_traffic(db)}
    try:
        return write_traffic(db, args.conversations, args.days, seed=args.seed)
    except EmptyPopulation as exc:
        raise CommandError(str(exc)) from exc


def register(commands: Any) -> None:
    cmd = commands.add_parser(
        "demo-traffic",
        help="write simulated conversations (ids sim-...) for a demo shop's insights page",
        description="Simulated customers of the shop chat over the last --days: events, "
        "moods, feedback, tickets, recommendations and clicks, enrolled in the running "
        "experiments. Never run it against a real shop's database; --remove deletes them.",
    )
    cmd.add_argument("--conversations", type=int, default=600, help="default %(default)s")
    cmd.add_argument("--days", type=int, default=28, help="default %(default)s")
    cmd.add_argument("--seed", type=int, default=2026, help="default %(default)s")
    cmd.add_argument("--remove", action="store_true", help="delete the simulated conversations")
    cmd.set_defaults(handler=_cmd_demo_traffic)

    cmd = commands.add_parser(
        "drift",
        help="compare the last days with the reference: intent confidence, fallback rate, "
        "sentiment and recommendation click-through",
        description="Each signal is compared with the saved reference (or, if none, with "
        "the period before) by the population stability index and a two-sample test, and "
        "marked MOVED beyond the threshold. --save-reference keeps the last --days as the "
        "reference: do it once a new model has settled in.",
    )
    cmd.add_argument("--days", type=int, default=7, help="the period checked (default 7)")
    cmd.add_argument("--save-reference", action="store_true", help="save, do not compare")
    cmd.add_argument("--reason", default="saved by an operator", help="why, with --save-reference")
    cmd.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 if a signal moved (for cron)"
    )
    cmd.set_defaults(handler=_cmd_drift)

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
