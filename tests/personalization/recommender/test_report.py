"""The evaluation table written into the README, and the targets read from the rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalization.recommender import report

pytestmark = pytest.mark.fast


def rows() -> list[dict[str, object]]:
    def row(model: str, customers: str, ndcg: float) -> dict[str, object]:
        return {
            "model": model,
            "customers": customers,
            "precision@10": 0.1,
            "recall@10": 0.05,
            "ndcg@10": ndcg,
            "auc": 0.8,
            "coverage": 0.2,
        }

    return [
        row(report.RECENCY_ALS, "warm", 0.1),
        row(report.TREND, "cold", 0.104),
        row(report.OURS, "warm", 0.125),
        row(report.OURS, "cold", 0.1),
    ]


def test_the_targets_say_which_are_met() -> None:
    summary = report.targets(rows(), 48.04)
    assert summary["warm_vs_recency_als"] == 1.25 and summary["warm_at_least_1_2x"]
    assert summary["training_within_60_s"] and summary["training_seconds"] == 48.0
    assert summary["cold_at_least_trend"] is False, "0.100 against 0.104"


def test_the_table_replaces_only_the_marked_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Shop\nbefore\n{report.START}\nold table\n{report.END}\nafter\n")
    text = report.markdown(rows(), report.targets(rows(), 48.0), "2011-11-01")
    report.write_into(readme, text)
    content = readme.read_text()
    assert content.startswith("# Shop\nbefore\n") and content.endswith(f"{report.END}\nafter\n")
    assert "old table" not in content
    assert f"| **{report.OURS}** | warm | 0.1000 | 0.0500 | 0.1250 | 0.800 | 0.200 |" in content
    assert "**1.25×** the recency-weighted ALS" in content and "**48.0 s**" in content
    report.write_into(readme, "second run")
    assert readme.read_text().count(report.START) == 1 and "second run" in readme.read_text()


def test_a_readme_without_the_markers_is_refused_and_left_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Shop\n")
    with pytest.raises(report.ReportError, match="no <!-- recommender-evaluation:start -->"):
        report.write_into(readme, "table")
    assert readme.read_text() == "# Shop\n"


def test_a_split_without_cold_customers_or_with_an_empty_reference_has_no_targets() -> None:
    warm_only = [r for r in rows() if r["customers"] == "warm"]
    assert report.targets(warm_only, 10.0) is None
    empty_als = [{**r, "ndcg@10": 0.0} if r["model"] == report.RECENCY_ALS else r for r in rows()]
    assert report.targets(empty_als, 10.0) is None
