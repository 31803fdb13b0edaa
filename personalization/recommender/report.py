"""The evaluation as a Markdown table, written into the README between two markers, so the
published figures are always those of the last `personalization evaluate --readme` run."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

START = "<!-- recommender-evaluation:start -->"
END = "<!-- recommender-evaluation:end -->"
RECENCY_ALS = "implicit ALS, recency-weighted (60 days)"
TREND = "trend (14 days)"
OURS = "LightFM hybrid (ours)"


class ReportError(ValueError):
    """The README has no place for the table."""


def _ndcg(rows: list[dict[str, Any]], model: str, customers: str) -> float | None:
    """The figure, or None when the split had no such customers."""
    for r in rows:
        if r["model"] == model and r["customers"] == customers:
            value = float(r["ndcg@10"])
            return value if math.isfinite(value) else None
    return None


def targets(rows: list[dict[str, Any]], training_seconds: float) -> dict[str, Any] | None:
    """The three targets: training time, warm NDCG@10 against recency-weighted ALS, cold
    NDCG@10 against the trend alone; None when the split cannot tell (no warm or no cold
    customers, or a reference that found nothing)."""
    ours_warm, als_warm = _ndcg(rows, OURS, "warm"), _ndcg(rows, RECENCY_ALS, "warm")
    cold_ours, cold_trend = _ndcg(rows, OURS, "cold"), _ndcg(rows, TREND, "cold")
    if ours_warm is None or not als_warm or cold_ours is None or cold_trend is None:
        return None
    warm = ours_warm / als_warm
    return {
        "training_seconds": round(training_seconds, 1),
        "training_within_60_s": training_seconds <= 60,
        "warm_vs_recency_als": round(warm, 3),
        "warm_at_least_1_2x": warm >= 1.2,
        "cold_ours": round(cold_ours, 4),
        "cold_trend": round(cold_trend, 4),
        "cold_at_least_trend": cold_ours >= cold_trend,
    }


def markdown(rows: list[dict[str, Any]], summary: dict[str, Any], split_at: str) -> str:
    lines = [
        f"`personalization evaluate --readme README.md`, run "
        f"{datetime.now(timezone.utc):%Y-%m-%d}: trained on purchases before {split_at}, "
        "scored on the products each customer bought for the first time afterwards.",
        "",
        "| model | customers | P@10 | R@10 | NDCG@10 | AUC | coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = f"**{r['model']}**" if r["model"] == OURS else r["model"]
        lines.append(
            f"| {name} | {r['customers']} | {r['precision@10']:.4f} | {r['recall@10']:.4f} "
            f"| {r['ndcg@10']:.4f} | {r['auc']:.3f} | {r['coverage']:.3f} |"
        )
    lines += [
        "",
        f"Training on every order of the import (tuning included): "
        f"**{summary['training_seconds']:.1f} s** (target 60 s). Warm customers: "
        f"**{summary['warm_vs_recency_als']:.2f}×** the recency-weighted ALS (target 1.2×). "
        f"Cold customers: **{summary['cold_ours']:.4f}** against {summary['cold_trend']:.4f} "
        "for the 14-day trend alone (target: at least equal).",
    ]
    return "\n".join(lines)


def write_into(path: Path, text: str) -> None:
    content = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(content):
        raise ReportError(f"{path} has no {START} … {END} block for the table")
    updated = pattern.sub(lambda _: f"{START}\n{text}\n{END}", content)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(updated, encoding="utf-8")
    temporary.replace(path)
