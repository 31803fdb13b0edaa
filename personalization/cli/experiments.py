"""Commands for A/B experiments: sync the file, list, report, enforce guardrails, simulate."""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from personalization.cli.common import CommandError, UsageError
from personalization.experiments.analysis import Report, analyse
from personalization.experiments.definition import (
    METRICS,
    ExperimentDefinitionError,
    load_file,
)
from personalization.experiments.repository import ExperimentRepository, UnknownExperiment
from personalization.experiments.simulation import (
    EmptyPopulation,
    aa_false_positive_rate,
    bandit_regret,
    guardrail_false_stops,
    load_population,
    power,
)
from personalization.experiments.treatment import enforce_guardrails
from personalization.store import Database

DEFAULT_FILE = Path("experiments.yml")


def _cmd_sync(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    try:
        experiments = load_file(args.file)
    except ExperimentDefinitionError as exc:
        raise UsageError(str(exc)) from exc
    return ExperimentRepository(db).sync(experiments)


def _cmd_list(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    repository = ExperimentRepository(db)
    rows = []
    for experiment in repository.all():
        counts = repository.assignment_counts(experiment.name)
        rows.append(
            {
                "name": experiment.name,
                "factor": experiment.factor,
                "starts": experiment.starts_at.date().isoformat(),
                "stops": experiment.stops_at.date().isoformat() if experiment.stops_at else None,
                "arms": {
                    a.name: {"setting": a.setting, **counts.get(a.name, {"units": 0})}
                    for a in experiment.arms
                },
                "stopped_arms": experiment.stopped_arms,
            }
        )
    if args.json:
        return {"experiments": rows}
    for row in rows:
        arms = ", ".join(f"{name} ({info['units']} units)" for name, info in row["arms"].items())
        print(
            f"{row['name']}: {row['factor']}, {row['starts']} to {row['stops'] or 'open'}: {arms}"
        )
    return {}


def _cmd_report(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    repository = ExperimentRepository(db)
    try:
        experiment = repository.get(args.name)
    except UnknownExperiment as exc:
        raise CommandError(str(exc)) from exc
    report = analyse(experiment, repository.outcomes(experiment.name))
    if args.json:
        return report_as_dict(report)
    print_report(report)
    return {}


def report_as_dict(report: Report) -> dict[str, Any]:
    return {
        "experiment": report.experiment,
        "control": report.control,
        "primary_metric": report.primary_metric,
        "test": report.test,
        "arms": {
            arm: {metric: vars(summary) for metric, summary in metrics.items()}
            for arm, metrics in report.summaries.items()
        },
        "comparisons": [vars(c) for c in report.comparisons],
        "verdicts": report.verdicts,
    }


def print_report(report: Report) -> None:
    print(f"experiment {report.experiment} (control: {report.control})")
    print(
        f"{'metric':<26}{'arm':<16}{'units':>7}{'mean':>10}{'95% CI':>22}"
        f"{'diff':>9}{'p':>9}{'p adj':>9}"
    )
    for metric in METRICS:
        for arm, metrics in report.summaries.items():
            s = metrics[metric]
            ci = f"{_num(s.low)} to {_num(s.high)}" if s.low is not None else "-"
            diff = p = adjusted = ""
            if arm != report.control:
                c = report.comparison(arm, metric)
                diff, p, adjusted = _num(c.difference), _num(c.p_value), _num(c.p_adjusted)
                adjusted += " *" if c.significant else ""
            print(
                f"{metric:<26}{arm:<16}{s.n:>7}{_num(s.mean):>10}{ci:>22}"
                f"{diff:>9}{p:>9}{adjusted:>9}"
            )
    print(f"test: {report.test}; * significant after correction")
    for arm, text in report.verdicts.items():
        print(f"verdict for {arm}: {text}")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _cmd_guard(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    stopped = enforce_guardrails(ExperimentRepository(db))
    return {"stopped": stopped or "none"}


def _cmd_resume(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    if not ExperimentRepository(db).resume_arm(args.name, args.arm):
        raise CommandError(f"arm {args.arm} of {args.name} is not stopped")
    return {"resumed": f"{args.name}: {args.arm}"}


def _cmd_simulate(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    try:
        population = load_population(db, random.Random(args.seed))
    except EmptyPopulation as exc:
        raise CommandError(str(exc)) from exc
    aa = aa_false_positive_rate(population, args.runs, args.customers, args.seed)
    stops = guardrail_false_stops(population, args.runs, args.customers, args.seed + 1)
    result: dict[str, Any] = {
        "population": len(population),
        "aa_false_positive_rate": _rate(aa),
        "guardrail_false_stop_rate": _rate(stops),
        "power": {},
    }
    for customers in args.power_customers:
        found = power(population, args.runs, customers, args.effect, args.seed + customers)
        result["power"][customers] = _rate(found)
    regret = bandit_regret(population, args.bandit_rounds, args.seed)
    result["bandit"] = vars(regret)
    if args.json:
        return result
    low, high = aa.interval
    print(f"population: {len(population)} customers with segments; {args.runs} runs each")
    print(
        f"A/A: {aa.hits}/{aa.runs} runs claim a difference = {aa.rate:.3f} "
        f"(95% CI {low:.3f}-{high:.3f}) at {args.customers} customers per run"
    )
    low, high = stops.interval
    print(
        f"guardrail: {stops.hits}/{stops.runs} runs stop one of two identical arms = "
        f"{stops.rate:.3f} (95% CI {low:.3f}-{high:.3f})"
    )
    for customers, rate in result["power"].items():
        print(
            f"power for CSAT {args.effect:+g}: {rate['rate']:.3f} "
            f"(95% CI {rate['low']:.3f}-{rate['high']:.3f}) at {customers} customers"
        )
    print(
        f"bandit over {regret.rounds} conversations: success {regret.bandit_success_rate:.3f}; "
        f"best fixed style {regret.best_fixed_style} {regret.best_fixed_success_rate:.3f}; "
        f"each customer's liked style {regret.oracle_success_rate:.3f}"
    )
    print(
        f"regret against the best fixed style: {regret.regret_vs_best_fixed:+.1f} expected "
        f"successes (negative: the bandit did better); against the oracle: "
        f"{regret.regret_vs_oracle:+.1f}"
    )
    return {}


def _rate(result: Any) -> dict[str, Any]:
    low, high = result.interval
    return {
        "runs": result.runs,
        "hits": result.hits,
        "rate": result.rate,
        "low": low,
        "high": high,
        "customers": result.customers,
    }


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def register(commands: Any) -> None:
    experiment = commands.add_parser(
        "experiment", help="A/B experiments: sync, list, report, guard, simulate"
    )
    sub = experiment.add_subparsers(dest="experiment_command", required=True, metavar="ACTION")

    cmd = sub.add_parser("sync", help="store the experiments of a file (default experiments.yml)")
    cmd.add_argument("file", type=Path, nargs="?", default=DEFAULT_FILE)
    cmd.set_defaults(handler=_cmd_sync)

    cmd = sub.add_parser("list", help="every experiment with its arms and units")
    cmd.set_defaults(handler=_cmd_list)

    cmd = sub.add_parser(
        "report",
        help="per arm: counts, means, intervals, tests and a verdict",
        description="Outcomes per arm (CSAT, thumbs-up rate, resolution without hand-off, "
        "hand-off rate, recommendation click-through, time to resolution), compared with the "
        "control by Welch's t-test on per-unit means, Holm-corrected over every metric.",
    )
    cmd.add_argument("name")
    cmd.set_defaults(handler=_cmd_report)

    cmd = sub.add_parser("guard", help="stop any arm a guardrail metric shows worse")
    cmd.set_defaults(handler=_cmd_guard)

    cmd = sub.add_parser("resume", help="serve a stopped arm again (after a look at why)")
    cmd.add_argument("name")
    cmd.add_argument("arm")
    cmd.set_defaults(handler=_cmd_resume)

    cmd = sub.add_parser(
        "simulate",
        help="A/A false-positive rate, power and the bandit's regret on simulated customers",
        description="Draws the shop's segmented customers, gives them hidden preferences and "
        "runs simulated experiments through the real assignment and report.",
    )
    cmd.add_argument("--runs", type=_positive, default=200, help="default %(default)s")
    cmd.add_argument(
        "--customers",
        type=_positive,
        default=2000,
        help="customers per A/A run (default %(default)s)",
    )
    cmd.add_argument(
        "--power-customers",
        type=_positive,
        nargs="+",
        default=[1000, 1500, 2000],
        help="sample sizes for the power runs (default %(default)s)",
    )
    cmd.add_argument("--effect", type=float, default=0.3, help="CSAT effect (default +0.3)")
    cmd.add_argument("--bandit-rounds", type=_positive, default=20000, help="default %(default)s")
    cmd.add_argument("--seed", type=int, default=2026, help="default %(default)s")
    cmd.set_defaults(handler=_cmd_simulate)
