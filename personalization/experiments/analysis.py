"""From outcomes per conversation to a verdict per arm, with the statistics stated.

The unit of analysis is the unit of assignment (a customer, or an anonymous conversation):
one customer's conversations are not independent, so each unit contributes its mean to each
metric, and the arms are compared with Welch's t-test (scipy) on those means. Every arm and
metric compared with the control is one hypothesis; Holm's step-down correction keeps the
chance of any false "difference" in a report at alpha. The simulator
(`personalization experiment simulate`) measures that rate and the test's power.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from scipy import stats

from personalization.experiments.definition import METRICS, Experiment

ALPHA = 0.05
#: The guardrail's chance of stopping a harmless arm, over its whole life however often it is
#: checked: it looks only when the smaller of the two arms reaches one of `GUARDRAIL_LOOKS`
#: units, at those first units of each arm (by their first conversation), so a look is the
#: same test whenever it is run; the one-sided tests of every look and guardrail metric share
#: this alpha (Bonferroni).
GUARDRAIL_ALPHA = 0.01
GUARDRAIL_LOOKS = (50, 100, 200, 400, 800, 1600, 3200, 6400)
GUARDRAIL_MIN_UNITS = GUARDRAIL_LOOKS[0]


@dataclass(frozen=True)
class ConversationOutcome:
    """What one exposed conversation produced; None where it produced nothing to measure."""

    arm: str
    unit_id: str
    started_at: datetime | None = None
    csat: float | None = None
    thumbs_up: float | None = None  # share of thumbs that were up
    handed_off: bool = False
    resolved: bool = False
    time_to_resolution_s: float | None = None
    recommendations_shown: int = 0
    recommendations_clicked: int = 0


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Comparison:
    arm: str
    metric: str
    difference: float | None
    low: float | None
    high: float | None
    p_value: float | None
    p_adjusted: float | None = None

    @property
    def significant(self) -> bool:
        return self.p_adjusted is not None and self.p_adjusted < ALPHA

    @property
    def better(self) -> bool:
        return self.difference is not None and (self.difference > 0) == METRICS[self.metric]


@dataclass
class Report:
    experiment: str
    control: str
    primary_metric: str
    summaries: dict[str, dict[str, Summary]]
    comparisons: list[Comparison]
    verdicts: dict[str, str] = field(default_factory=dict)
    test: str = (
        "Welch's two-sided t-test on per-unit means (scipy.stats.ttest_ind, equal_var=False), "
        f"Holm-corrected over every arm and metric, alpha {ALPHA}"
    )

    @property
    def any_difference(self) -> bool:
        return any(c.significant for c in self.comparisons)

    def comparison(self, arm: str, metric: str) -> Comparison:
        return next(c for c in self.comparisons if c.arm == arm and c.metric == metric)


def unit_values(outcomes: Iterable[ConversationOutcome]) -> dict[str, dict[str, list[float]]]:
    """Per arm and metric, one value per unit that has something to measure."""
    per_unit: dict[tuple[str, str], list[ConversationOutcome]] = defaultdict(list)
    for outcome in outcomes:
        per_unit[(outcome.arm, outcome.unit_id)].append(outcome)
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (arm, _unit), conversations in per_unit.items():
        for metric, value in _unit_metrics(conversations).items():
            if value is not None:
                values[arm][metric].append(value)
    return values


def _unit_metrics(conversations: Sequence[ConversationOutcome]) -> dict[str, float | None]:
    csat = [c.csat for c in conversations if c.csat is not None]
    thumbs = [c.thumbs_up for c in conversations if c.thumbs_up is not None]
    times = [c.time_to_resolution_s for c in conversations if c.time_to_resolution_s is not None]
    shown = sum(c.recommendations_shown for c in conversations)
    clicked = sum(c.recommendations_clicked for c in conversations)
    return {
        "csat": _mean(csat),
        "thumbs_up_rate": _mean(thumbs),
        "resolved_without_handoff": _mean(
            [float(c.resolved and not c.handed_off) for c in conversations]
        ),
        "handoff_rate": _mean([float(c.handed_off) for c in conversations]),
        "recommendation_ctr": min(clicked / shown, 1.0) if shown else None,
        "time_to_resolution_s": _mean(times),
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(values: Sequence[float]) -> Summary:
    n = len(values)
    if n == 0:
        return Summary(0, None, None, None)
    mean = sum(values) / n
    if n < 2:
        return Summary(n, mean, None, None)
    sem = stats.sem(values)
    if sem == 0 or math.isnan(sem):
        return Summary(n, mean, mean, mean)
    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * sem
    return Summary(n, mean, mean - half, mean + half)


def compare(
    arm: str, metric: str, treated: Sequence[float], control: Sequence[float]
) -> Comparison:
    """The arm's difference from the control, its Welch interval and two-sided p-value."""
    if len(treated) < 2 or len(control) < 2:
        return Comparison(arm, metric, None, None, None, None)
    difference = sum(treated) / len(treated) - sum(control) / len(control)
    var_t, var_c = stats.tvar(treated), stats.tvar(control)
    se = math.sqrt(var_t / len(treated) + var_c / len(control))
    if se == 0:  # both arms constant: no evidence either way, whatever the means say
        return Comparison(arm, metric, difference, difference, difference, None)
    result = stats.ttest_ind(treated, control, equal_var=False)
    df = se**4 / (
        (var_t / len(treated)) ** 2 / (len(treated) - 1)
        + (var_c / len(control)) ** 2 / (len(control) - 1)
    )
    half = stats.t.ppf(1 - ALPHA / 2, df) * se
    return Comparison(
        arm, metric, difference, difference - half, difference + half, float(result.pvalue)
    )


def wilson_interval(hits: int, n: int) -> tuple[float, float] | None:
    """The Wilson 95% interval of a rate ``hits / n``; None without trials."""
    if n <= 0:
        return None
    z, p = stats.norm.ppf(1 - ALPHA / 2), hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (each compared with alpha as is)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def analyse(experiment: Experiment, outcomes: Iterable[ConversationOutcome]) -> Report:
    values = unit_values(outcomes)
    arms = [a.name for a in experiment.arms]
    summaries = {arm: {m: summarize(values[arm][m]) for m in METRICS} for arm in arms}
    raw = [
        compare(arm, metric, values[arm][metric], values[experiment.control_arm][metric])
        for arm in arms
        if arm != experiment.control_arm
        for metric in METRICS
    ]
    tested = [c for c in raw if c.p_value is not None]
    adjusted = dict(zip((id(c) for c in tested), holm([c.p_value for c in tested]), strict=True))
    comparisons = [
        Comparison(c.arm, c.metric, c.difference, c.low, c.high, c.p_value, adjusted.get(id(c)))
        for c in raw
    ]
    report = Report(
        experiment.name, experiment.control_arm, experiment.primary_metric, summaries, comparisons
    )
    for arm in arms:
        if arm != experiment.control_arm:
            report.verdicts[arm] = verdict(report, experiment, arm)
    return report


def verdict(report: Report, experiment: Experiment, arm: str) -> str:
    """One plain sentence a support lead can act on."""
    primary = report.comparison(arm, experiment.primary_metric)
    label = experiment.primary_metric.replace("_", " ")
    stopped = experiment.stopped_arms.get(arm)
    prefix = f"Stopped ({stopped}). " if stopped else ""
    if primary.difference is None:
        return (
            prefix + f"Not enough data yet: {arm} and {report.control} need at least two "
            f"units each with a {label}."
        )
    interval = f"{primary.difference:+.3g} (95% CI {primary.low:+.3g} to {primary.high:+.3g})"
    others = [
        f"{c.metric.replace('_', ' ')} {'better' if c.better else 'worse'}"
        for c in report.comparisons
        if c.arm == arm and c.metric != experiment.primary_metric and c.significant
    ]
    extra = f" Also significant: {', '.join(others)}." if others else ""
    if primary.significant:
        direction = "better" if primary.better else "worse"
        return (
            prefix + f"{arm} is {direction} than {report.control} on {label}: "
            f"{interval}, adjusted p = {primary.p_adjusted:.3g}." + extra
        )
    return (
        prefix + f"No significant difference on {label} between {arm} and "
        f"{report.control} yet: {interval}, adjusted p = {_p(primary.p_adjusted)}." + extra
    )


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def guardrail_breaches(
    experiment: Experiment, outcomes: Iterable[ConversationOutcome]
) -> dict[str, str]:
    """Arms a guardrail metric shows significantly worse than the control, with the reason."""
    outcomes = list(outcomes)
    order = _units_in_order(outcomes)
    control = experiment.control_arm
    per_test = GUARDRAIL_ALPHA / (len(GUARDRAIL_LOOKS) * max(1, len(experiment.guardrails)))
    breaches: dict[str, str] = {}
    for arm in (a.name for a in experiment.arms):
        if arm == control or arm in experiment.stopped_arms:
            continue
        for look in GUARDRAIL_LOOKS:
            if min(len(order.get(arm, [])), len(order.get(control, []))) < look:
                break
            included = set(order[arm][:look]) | set(order[control][:look])
            values = unit_values(o for o in outcomes if o.unit_id in included)
            reason = _breach(experiment, arm, values, per_test, look)
            if reason:
                breaches[arm] = reason
                break
    return breaches


def _units_in_order(outcomes: list[ConversationOutcome]) -> dict[str, list[str]]:
    """Each arm's units by their first conversation (then by id, for equal times)."""
    first: dict[tuple[str, str], datetime] = {}
    latest = datetime.max.replace(tzinfo=timezone.utc)
    for o in outcomes:
        key = (o.arm, o.unit_id)
        at = o.started_at or latest
        first[key] = min(first.get(key, at), at)
    order: dict[str, list[str]] = defaultdict(list)
    for (arm, unit), _ in sorted(first.items(), key=lambda kv: (kv[1], kv[0][1])):
        order[arm].append(unit)
    return order


def _breach(
    experiment: Experiment,
    arm: str,
    values: dict[str, dict[str, list[float]]],
    per_test: float,
    look: int,
) -> str | None:
    control = experiment.control_arm
    for metric in experiment.guardrails:
        result = compare(arm, metric, values[arm][metric], values[control][metric])
        if result.p_value is None or result.better:
            continue
        one_sided = result.p_value / 2
        if one_sided < per_test:
            return (
                f"guardrail {metric}: {result.difference:+.3g} against {control} at the "
                f"look of {look} units per arm, one-sided p = {one_sided:.2g} "
                f"(under {per_test:.2g})"
            )
    return None
