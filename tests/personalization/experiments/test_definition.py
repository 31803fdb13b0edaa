from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from personalization.experiments.definition import (
    ExperimentDefinitionError,
    load_file,
    parse,
)
from tests.conftest import PROJECT_ROOT


def entry(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "style-test",
        "factor": "response_style",
        "arms": [
            {"name": "bandit", "weight": 1, "style": "bandit"},
            {"name": "fixed", "weight": 3, "style": "concise_formal"},
        ],
        "starts": "2026-01-01",
    }
    return {**base, **changes}


def test_the_repository_file_defines_experiments_the_bot_can_run() -> None:
    experiments = load_file(PROJECT_ROOT / "experiments.yml")
    assert experiments, "the shipped file has at least one experiment"
    for experiment in experiments:
        assert experiment.control_arm in {a.name for a in experiment.arms}


def test_an_entry_is_read_with_its_defaults() -> None:
    experiment = parse(entry())
    assert experiment.control_arm == "bandit", "the first arm is the control by default"
    assert experiment.primary_metric == "csat"
    assert experiment.guardrails == ("csat",)
    assert experiment.starts_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert [a.weight for a in experiment.arms] == [1.0, 3.0]
    assert experiment.running_at(datetime(2026, 6, 1, tzinfo=timezone.utc))
    assert not experiment.running_at(datetime(2025, 12, 31, tzinfo=timezone.utc))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Bad Name"}, "lower-case"),
        ({"factor": "colour"}, "factor must be one of"),
        ({"arms": [{"name": "only", "style": "bandit"}]}, "at least two arms"),
        (
            {"arms": [{"name": "a", "style": "bandit"}, {"name": "a", "style": "bandit"}]},
            "unique",
        ),
        (
            {"arms": [{"name": "a", "style": "bandit"}, {"name": "b", "style": "shouty"}]},
            "not valid for a response_style",
        ),
        (
            {"arms": [{"name": "a", "style": "bandit"}, {"name": "b", "personalized": False}]},
            "sets `style` on every arm",
        ),
        (
            {
                "arms": [
                    {"name": "a", "style": "bandit", "weight": 0},
                    {"name": "b", "style": "bandit"},
                ]
            },
            "weight must be a positive number",
        ),
        ({"control": "nobody"}, "not one of its arms"),
        ({"primary_metric": "revenue"}, "unknown metric 'revenue'"),
        ({"guardrails": ["mood"]}, "unknown metric 'mood'"),
        ({"starts": None}, "needs a start"),
        ({"starts": "soon"}, "not an ISO date"),
        ({"stops": "2025-12-01"}, "stops before it starts"),
    ],
)
def test_a_mistake_is_refused_naming_what_to_fix(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ExperimentDefinitionError, match=message):
        parse(entry(**changes))


def test_two_experiments_on_one_factor_at_once_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "experiments.yml"
    path.write_text(
        "experiments:\n"
        "  - {name: one, factor: recommender, starts: 2026-01-01,\n"
        "     arms: [{name: a, recommender: model}, {name: b, recommender: popular}]}\n"
        "  - {name: two, factor: recommender, starts: 2026-03-01,\n"
        "     arms: [{name: a, recommender: model}, {name: b, recommender: popular}]}\n"
    )
    with pytest.raises(ExperimentDefinitionError, match="one and two both change recommender"):
        load_file(path)
    path.write_text(
        path.read_text().replace("starts: 2026-01-01,", "starts: 2026-01-01, stops: 2026-02-01,")
    )
    assert [e.name for e in load_file(path)] == ["one", "two"], "one after the other is fine"


def test_a_file_that_is_not_yaml_or_missing_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "experiments.yml"
    path.write_text("experiments: [unclosed")
    with pytest.raises(ExperimentDefinitionError, match="not valid YAML"):
        load_file(path)
    with pytest.raises(ExperimentDefinitionError, match="cannot read"):
        load_file(tmp_path / "missing.yml")
    path.write_text("experiments: {name: x}")
    with pytest.raises(ExperimentDefinitionError, match="must be a list"):
        load_file(path)
