"""The insights page: the overview turned into charts and a few short lists, in one HTML page.

The page has no script at all and loads nothing from elsewhere: charts are `data:` images,
the style sheet is inline. Jinja2 escapes every value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from insights import charts
from personalization.experiments.analysis import wilson_interval
from personalization.insights.overview import Overview

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _rate(hits: float, n: float) -> float | None:
    return hits / n if n else None


def _csat_interval(row: dict[str, Any]) -> tuple[float, float] | None:
    n, sd, mean = row["csat_n"], row["csat_sd"], row["csat"]
    if mean is None or not n or n < 2 or sd is None:
        return None
    half = 1.96 * sd / n**0.5
    return mean - half, mean + half


def feedback_charts(overview: Overview) -> list[str]:
    titles = {"segment": "segment", "style": "response style", "arm": "experiment arm"}
    images = []
    for dimension, rows in overview.feedback.items():
        labels = [r["grp"] for r in rows]
        images.append(
            charts.bars(
                f"CSAT (1-5) by {titles[dimension]}, with 95% intervals",
                labels,
                [r["csat"] for r in rows],
                [_csat_interval(r) for r in rows],
                notes=[f"n={r['csat_n']}" for r in rows],
            )
        )
        images.append(
            charts.bars(
                f"Thumbs up by {titles[dimension]}",
                labels,
                [r["thumbs_up"] for r in rows],
                [wilson_interval(r["thumbs_up_n"], r["thumbs_n"]) for r in rows],
                percent=True,
                notes=[f"n={r['thumbs_n']}" for r in rows],
            )
        )
    return images


def click_charts(overview: Overview) -> list[str]:
    titles = {"segment": "segment", "reason": "reason shown"}
    return [
        charts.bars(
            f"Recommendation click-through by {titles[dimension]}",
            [r["grp"] for r in rows],
            [_rate(r["clicked"], r["shown"]) for r in rows],
            [wilson_interval(r["clicked"], r["shown"]) for r in rows],
            percent=True,
            notes=[f"{r['clicked']}/{r['shown']}" for r in rows],
        )
        for dimension, rows in overview.click_through.items()
    ]


def bandit_charts(overview: Overview) -> list[str]:
    by_segment: dict[str, list[Any]] = {}
    for posterior in overview.bandit:
        by_segment.setdefault(posterior.segment, []).append(posterior)
    if not by_segment:
        return [charts.empty("Response-style bandit", "No feedback has reached the bandit yet")]
    return [
        charts.bars(
            f"Style bandit, segment {segment}: chance of good feedback (posterior, 95%)",
            [p.style for p in arms],
            [p.mean for p in arms],
            [p.interval for p in arms],
            percent=True,
            notes=[f"{p.successes} good / {p.failures} bad" for p in arms],
        )
        for segment, arms in sorted(by_segment.items())
    ]


def experiment_sections(overview: Overview) -> list[dict[str, Any]]:
    sections = []
    for experiment, report in overview.experiments:
        metric = experiment.primary_metric
        arms = [a.name for a in experiment.arms]
        summaries = [report.summaries[a][metric] for a in arms]
        sections.append(
            {
                "name": experiment.name,
                "description": experiment.description,
                "factor": experiment.factor,
                "running": experiment.stops_at is None or experiment.stops_at > overview.until,
                "stopped_arms": experiment.stopped_arms,
                "chart": charts.bars(
                    f"{experiment.name}: {metric.replace('_', ' ')} per arm (95% intervals)",
                    arms,
                    [s.mean for s in summaries],
                    [(s.low, s.high) if s.low is not None else None for s in summaries],
                    notes=[f"{s.n} units" for s in summaries],
                ),
                "verdicts": report.verdicts,
                "test": report.test,
            }
        )
    return sections


def audit_sections(overview: Overview) -> list[dict[str, Any]]:
    sections = []
    for audit in overview.audits:
        shown = [g for g in audit.groups if g.compared]
        labels = [g.name for g in shown]
        notes = [f"{g.customers} customers" for g in shown]
        sections.append(
            {
                "dimension": audit.dimension,
                "flags": audit.flags,
                "gaps": audit.gaps,
                "few": [g.name for g in audit.groups if not g.compared],
                "charts": [
                    charts.bars(
                        f"Share of conversations shown recommendations, by {audit.dimension}",
                        labels,
                        [g.exposure_rate for g in shown],
                        percent=True,
                        notes=notes,
                    ),
                    charts.bars(
                        f"Hand-off rate by {audit.dimension}",
                        labels,
                        [g.handoff_rate for g in shown],
                        percent=True,
                        notes=notes,
                    ),
                    charts.bars(
                        f"CSAT by {audit.dimension}",
                        labels,
                        [g.csat for g in shown],
                        notes=[f"{g.csat_n} customers rated" for g in shown],
                    ),
                ],
            }
        )
    return sections


def data_quality(overview: Overview) -> dict[str, Any]:
    last = overview.last_import
    images = []
    if last is None:
        images.append(charts.empty("Last import", "No import recorded yet"))
    else:
        rejected = sorted(last["rejected"].items(), key=lambda kv: -kv[1])
        images.append(
            charts.bars(
                f"Rows rejected by the last import ({last['source']}), by reason",
                [reason for reason, _ in rejected],
                [count / last["rows_read"] for _, count in rejected],
                percent=True,
                notes=[f"{count:,}" for _, count in rejected],
            )
            if rejected
            else charts.empty("Rows rejected by the last import", "None rejected")
        )
        missing = sorted(last["missing_fields"].items(), key=lambda kv: -kv[1])
        images.append(
            charts.bars(
                "Empty fields in the last import, by column",
                [column for column, _ in missing],
                [count / last["rows_read"] for _, count in missing],
                percent=True,
                notes=[f"{count:,}" for _, count in missing],
            )
            if missing
            else charts.empty("Empty fields in the last import", "No empty fields")
        )
    profile = overview.missing_fields
    images.append(
        charts.bars(
            "Stored records without an optional field",
            [k.replace("_", " ") for k in profile],
            list(profile.values()),
            percent=True,
        )
    )
    return {"last": last, "charts": images}


def render(overview: Overview) -> str:
    fallback_days = overview.fallbacks_per_day
    moods = {r["label"]: r["messages"] for r in overview.moods}
    mood_labels = [label for label in ("negative", "neutral", "positive") if label in moods]
    escalations: dict[str, int] = {}
    for row in overview.escalations:
        escalations[row["reason"]] = escalations.get(row["reason"], 0) + row["tickets"]
    return _TEMPLATES.get_template("insights.html").render(
        overview=overview,
        conversations_chart=charts.stacked_days(
            "Conversations per day, by channel",
            overview.conversations_per_day,
            "day",
            "channel",
            "conversations",
        ),
        total_conversations=sum(r["conversations"] for r in overview.conversations_per_day),
        fallback_chart=charts.line_days(
            "Fallback rate per day (typed messages not understood)",
            [r["day"] for r in fallback_days],
            [_rate(r["fallbacks"], r["messages"]) or 0.0 for r in fallback_days],
            percent=True,
        ),
        mood_chart=charts.shares(
            "Mood of customers' messages", mood_labels, [moods[m] for m in mood_labels]
        ),
        escalation_chart=charts.bars(
            "Hand-offs to a person, by reason",
            list(escalations),
            [float(v) for v in escalations.values()],
        ),
        feedback_charts=feedback_charts(overview),
        click_charts=click_charts(overview),
        bandit_charts=bandit_charts(overview),
        experiments=experiment_sections(overview),
        audits=audit_sections(overview),
        quality=data_quality(overview),
        drift=overview.drift,
    )
