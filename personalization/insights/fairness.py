"""The bias audit: do customers of one country or segment get fewer recommendations, worse
ratings or more hand-offs than others?

A customer with many conversations is one customer: each customer's share of conversations
shown recommendations, share handed off and mean CSAT are taken first, and a group's value is
the mean over its customers. Groups with fewer than `MIN_GROUP` customers are listed but
neither shown nor compared (their values are mostly noise, and could describe one person).
The demographic-parity gap of a metric is the highest compared group's value minus the
lowest one's. A gap is flagged for a person to look at when it is above its threshold *and*
the groups differ beyond chance (Kruskal-Wallis across all compared groups, on the customers'
values, p < 0.05): picking the highest and lowest of many groups would otherwise find a "gap"
in pure noise. A flag is a question, not a verdict.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

MIN_GROUP = 10
THRESHOLDS = {"exposure_rate": 0.10, "handoff_rate": 0.10, "csat": 0.5}
P_VALUE = 0.05
METRICS = tuple(THRESHOLDS)


@dataclass(frozen=True)
class Group:
    name: str
    customers: int
    conversations: int
    # Per customer, for the metric's test; a customer without a rating has no CSAT value.
    values: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def compared(self) -> bool:
        return self.customers >= MIN_GROUP

    def mean(self, metric: str) -> float | None:
        values = self.values.get(metric, ())
        return sum(values) / len(values) if values else None

    @property
    def exposure_rate(self) -> float | None:
        return self.mean("exposure_rate")

    @property
    def handoff_rate(self) -> float | None:
        return self.mean("handoff_rate")

    @property
    def csat(self) -> float | None:
        return self.mean("csat")

    @property
    def csat_n(self) -> int:
        return len(self.values.get("csat", ()))


@dataclass
class Audit:
    dimension: str
    groups: list[Group]
    gaps: dict[str, float | None] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def audit(rows: list[dict[str, Any]], dimension: str) -> Audit:
    """``rows``: one per conversation (see InsightsRepository.conversations_of_customers)."""
    by_customer: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_customer[(str(row[dimension]), str(row["customer_id"]))].append(row)
    per_group: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    conversations: dict[str, int] = defaultdict(int)
    customers: dict[str, int] = defaultdict(int)
    for (group, _customer), members in by_customer.items():
        customers[group] += 1
        conversations[group] += len(members)
        values = per_group[group]
        values["exposure_rate"].append(sum(m["exposed"] for m in members) / len(members))
        values["handoff_rate"].append(sum(m["handed_off"] for m in members) / len(members))
        rated = [m["csat"] for m in members if m["csat"] is not None]
        if rated:
            values["csat"].append(sum(rated) / len(rated))
    groups = [
        Group(
            name,
            customers[name],
            conversations[name],
            {metric: tuple(v) for metric, v in per_group[name].items()},
        )
        for name in sorted(per_group)
    ]
    result = Audit(dimension, groups)
    compared = [g for g in groups if g.compared]
    for metric, threshold in THRESHOLDS.items():
        present = [g for g in compared if len(g.values.get(metric, ())) >= MIN_GROUP // 2]
        if len(present) < 2:
            result.gaps[metric] = None
            continue
        high = max(present, key=lambda g: g.mean(metric) or 0.0)
        low = min(present, key=lambda g: g.mean(metric) or 0.0)
        gap = (high.mean(metric) or 0.0) - (low.mean(metric) or 0.0)
        result.gaps[metric] = gap
        p = _p_value([g.values[metric] for g in present])
        if gap > threshold and p < P_VALUE:
            result.flags.append(
                f"{metric.replace('_', ' ')} differs by {gap:.2f} between {dimension} "
                f"{high.name} ({high.mean(metric):.2f}) and {low.name} "
                f"({low.mean(metric):.2f}), over the {threshold:g} threshold (p = {p:.2g})"
            )
    return result


def _p_value(samples: list[tuple[float, ...]]) -> float:
    """Whether the groups' customers differ beyond chance (one test across all of them)."""
    if len({v for sample in samples for v in sample}) < 2:
        return 1.0
    return float(stats.kruskal(*samples).pvalue)
