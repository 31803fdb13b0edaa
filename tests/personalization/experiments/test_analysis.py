from __future__ import annotations

import random

import pytest
from scipy import stats

from personalization.experiments.analysis import (
    GUARDRAIL_MIN_UNITS,
    ConversationOutcome,
    analyse,
    compare,
    guardrail_breaches,
    holm,
    unit_values,
)
from personalization.experiments.definition import parse

pytestmark = pytest.mark.fast

EXPERIMENT = parse(
    {
        "name": "style-test",
        "factor": "response_style",
        "starts": "2026-01-01",
        "arms": [
            {"name": "bandit", "style": "bandit"},
            {"name": "fixed", "style": "concise_casual"},
        ],
        "guardrails": ["csat"],
    }
)


def outcomes(arm: str, csats: list[float], prefix: str = "") -> list[ConversationOutcome]:
    return [
        ConversationOutcome(
            arm=arm, unit_id=f"{prefix}{arm}-{i}", csat=c, resolved=True, time_to_resolution_s=60.0
        )
        for i, c in enumerate(csats)
    ]


def test_holm_matches_the_published_step_down() -> None:
    # Holm (1979) step-down: sorted p times (m - rank), made monotone, capped at 1.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_a_units_conversations_count_once() -> None:
    many = [ConversationOutcome("bandit", "customer:a", csat=c) for c in (5, 5, 5, 1)]
    one = [ConversationOutcome("bandit", "customer:b", csat=2)]
    values = unit_values(many + one)
    assert sorted(values["bandit"]["csat"]) == [2.0, 4.0]
    assert values["bandit"]["handoff_rate"] == [0.0, 0.0]


def test_the_comparison_is_welchs_test_with_its_interval() -> None:
    rng = random.Random(3)
    a = [rng.gauss(4.0, 1.0) for _ in range(80)]
    b = [rng.gauss(3.6, 0.5) for _ in range(120)]
    result = compare("fixed", "csat", a, b)
    assert result.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert result.low < result.difference < result.high
    assert result.difference == pytest.approx(sum(a) / 80 - sum(b) / 120)


def test_a_clear_effect_gets_a_verdict_that_names_it() -> None:
    rng = random.Random(1)
    data = outcomes("bandit", [rng.choice([3, 4]) for _ in range(300)]) + outcomes(
        "fixed", [rng.choice([4, 5]) for _ in range(300)]
    )
    report = analyse(EXPERIMENT, data)
    csat = report.comparison("fixed", "csat")
    assert csat.significant and csat.better
    assert csat.p_adjusted >= csat.p_value, "the correction never lowers a p-value"
    assert report.verdicts["fixed"].startswith("fixed is better than bandit on csat: +")
    assert report.summaries["fixed"]["csat"].n == 300


def test_no_data_is_said_plainly_not_computed() -> None:
    report = analyse(EXPERIMENT, outcomes("bandit", [4.0]))
    assert report.verdicts["fixed"].startswith("Not enough data yet")
    assert not report.any_difference


def test_the_guardrail_stops_an_arm_only_on_enough_strong_evidence() -> None:
    rng = random.Random(2)
    worse = outcomes("bandit", [rng.choice([4, 5]) for _ in range(GUARDRAIL_MIN_UNITS)]) + outcomes(
        "fixed", [rng.choice([1, 2, 3]) for _ in range(GUARDRAIL_MIN_UNITS)]
    )
    breaches = guardrail_breaches(EXPERIMENT, worse)
    assert list(breaches) == ["fixed"]
    assert breaches["fixed"].startswith("guardrail csat: -")
    too_few = worse[: GUARDRAIL_MIN_UNITS - 1] + worse[GUARDRAIL_MIN_UNITS:-1]
    assert guardrail_breaches(EXPERIMENT, too_few) == {}
    better = outcomes("bandit", [rng.choice([1, 2, 3]) for _ in range(60)]) + outcomes(
        "fixed", [rng.choice([4, 5]) for _ in range(60)]
    )
    assert guardrail_breaches(EXPERIMENT, better) == {}, "better is never a breach"
