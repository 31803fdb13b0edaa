"""The bias audit: do customers of one country or segment get fewer recommendations, worse
ratings or more hand-offs than others?

For each group the rates are per conversation. The demographic-parity gap of a rate is the
highest group's rate minus the lowest one's, over the groups with at least `MIN_GROUP`
conversations (smaller groups are listed but not compared: their rates are mostly noise).
A gap is flagged for a person to look at when it is above its threshold *and* the two groups
differ beyond chance across all compared groups (a chi-square test of the rates, or
Kruskal-Wallis for CSAT, p < 0.05): picking the highest and lowest of many groups would
otherwise find a "gap" in pure noise. A flag is a question, not a verdict.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

MIN_GROUP = 20
THRESHOLDS = {"exposure_rate": 0.10, "handoff_rate": 0.10, "csat": 0.5}
P_VALUE = 0.05


@dataclass(frozen=True)
class Group:
    name: str
    conversations: int
    exposure_rate: float
    handoff_rate: float
    csat: float | None
    csat_n: int
    ratings: tuple[float, ...] = ()

    @property
    def compared(self) -> bool:
        return self.conversations >= MIN_GROUP


@dataclass
class Audit:
    dimension: str
    groups: list[Group]
    gaps: dict[str, float | None] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def audit(rows: list[dict[str, Any]], dimension: str) -> Audit:
    """``rows``: one per conversation (see InsightsRepository.conversations_of_customers)."""
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_group[str(row[dimension])].append(row)
    groups = []
    for name, members in sorted(by_group.items()):
        rated = [m["csat"] for m in members if m["csat"] is not None]
        groups.append(
            Group(
                name,
                len(members),
                sum(m["exposed"] for m in members) / len(members),
                sum(m["handed_off"] for m in members) / len(members),
                sum(rated) / len(rated) if rated else None,
                len(rated),
                tuple(rated),
            )
        )
    result = Audit(dimension, groups)
    compared = [g for g in groups if g.compared]
    for metric, threshold in THRESHOLDS.items():
        values = {
            g.name: getattr(g, metric)
            for g in compared
            if getattr(g, metric) is not None and (metric != "csat" or g.csat_n >= MIN_GROUP)
        }
        if len(values) < 2:
            result.gaps[metric] = None
            continue
        high = max(values, key=values.__getitem__)
        low = min(values, key=values.__getitem__)
        gap = values[high] - values[low]
        result.gaps[metric] = gap
        p = _p_value(metric, [g for g in compared if g.name in values])
        if gap > threshold and p < P_VALUE:
            result.flags.append(
                f"{metric.replace('_', ' ')} differs by {gap:.2f} between {dimension} "
                f"{high} ({values[high]:.2f}) and {low} ({values[low]:.2f}), over the "
                f"{threshold:g} threshold (p = {p:.2g})"
            )
    return result


def _p_value(metric: str, groups: list[Group]) -> float:
    """Whether the groups' values differ beyond chance (one test across all of them)."""
    if metric == "csat":
        ratings = [g.ratings for g in groups if len(g.ratings) >= 2]
        if len(ratings) < 2 or len({r for group in ratings for r in group}) < 2:
            return 1.0
        return float(stats.kruskal(*ratings).pvalue)
    table = [[round(getattr(g, metric) * g.conversations), g.conversations] for g in groups]
    table = [[hits, n - hits] for hits, n in table]
    if sum(h for h, _ in table) == 0 or sum(m for _, m in table) == 0:
        return 1.0
    return float(stats.chi2_contingency(table)[1])
