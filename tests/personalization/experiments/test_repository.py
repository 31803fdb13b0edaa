"""Experiments in real PostgreSQL: sync, sticky assignment, exposures, outcomes, guardrail."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from personalization.experiments.analysis import GUARDRAIL_MIN_UNITS, analyse
from personalization.experiments.assignment import Unit, assigned_arm
from personalization.experiments.definition import ExperimentDefinitionError, parse
from personalization.experiments.repository import ExperimentRepository, UnknownExperiment
from personalization.experiments.treatment import (
    RunningExperiments,
    Treatment,
    enforce_guardrails,
    start_session,
    treatment_for,
)
from personalization.store import Database
from personalization.support.bandit import STYLES

NOW = datetime.now(timezone.utc)


def style_experiment(**changes: Any) -> Any:
    return parse(
        {
            "name": "style-test",
            "factor": "response_style",
            "starts": (NOW - timedelta(days=1)).isoformat(),
            "arms": [
                {"name": "bandit", "style": "bandit"},
                {"name": "fixed", "style": "detailed_formal"},
            ],
            **changes,
        }
    )


def rows(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute(sql, params)
        return [dict(r) for r in cur.fetchall()]


def add_customer(db: Database, customer_id: str) -> None:
    with db.cursor() as cur:
        cur.execute("INSERT INTO customers (id, display_name) VALUES (%s, 'Test')", (customer_id,))


def test_sync_stores_the_file_and_stops_what_left_it(db: Database) -> None:
    repository = ExperimentRepository(db)
    other = parse(
        {
            **style_experiment().as_row(),
            "name": "old-one",
            "factor": "recommender",
            "starts": "2026-01-01",
            "arms": [
                {"name": "a", "recommender": "model"},
                {"name": "b", "recommender": "popular"},
            ],
        }
    )
    repository.sync([style_experiment(), other])
    assert [e.name for e in repository.running()] == ["old-one", "style-test"]
    result = repository.sync([style_experiment(description="changed")])
    assert result["stopped_not_in_file"] == ["old-one"]
    assert [e.name for e in repository.running()] == ["style-test"]
    assert repository.get("style-test").description == "changed"
    assert repository.get("old-one").stops_at is not None, "its data and definition stay"
    with pytest.raises(UnknownExperiment):
        repository.get("never")


def test_a_customer_keeps_their_arm_and_every_conversation_is_recorded(db: Database) -> None:
    repository = ExperimentRepository(db)
    experiment = style_experiment()
    repository.sync([experiment])
    add_customer(db, "cust-a")
    unit = Unit.for_conversation("cust-a", "conv-1")
    first = repository.enrol(experiment, unit, "conv-1")
    # The weights change mid-experiment: the customer's first assignment still holds.
    reweighted = style_experiment(
        arms=[
            {"name": "bandit", "style": "bandit", "weight": 0.0001},
            {"name": "fixed", "style": "detailed_formal"},
        ]
    )
    second = repository.enrol(reweighted, Unit.for_conversation("cust-a", "conv-2"), "conv-2")
    assert first == second
    assert rows(db, "SELECT unit_id, customer_id, arm FROM experiment_assignments") == [
        {"unit_id": "customer:cust-a", "customer_id": "cust-a", "arm": first}
    ]
    exposures = rows(db, "SELECT conversation_id, arm FROM experiment_exposures ORDER BY 1")
    assert exposures == [
        {"conversation_id": "conv-1", "arm": first},
        {"conversation_id": "conv-2", "arm": first},
    ]
    assert repository.mark_resolved("conv-1") == 1
    assert repository.mark_resolved("conv-1") == 0, "the first resolution counts"


def test_outcomes_are_read_where_they_were_recorded(db: Database) -> None:
    repository = ExperimentRepository(db)
    experiment = style_experiment()
    repository.sync([experiment])
    add_customer(db, "cust-b")
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO products (stock_code, description, unit_price) VALUES ('MUG1', 'MUG', 5)"
        )
    arm = repository.enrol(experiment, Unit.for_conversation("cust-b", "conv-b"), "conv-b")
    repository.enrol(experiment, Unit.for_conversation(None, "conv-anon"), "conv-anon")
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO feedback (customer_id, conversation_id, kind, value) "
            "VALUES (%s, %s, %s, %s)",
            [
                ("cust-b", "conv-b", "csat", 5),
                ("cust-b", "conv-b", "csat", 3),
                ("cust-b", "conv-b", "thumbs", 1),
                (None, "conv-anon", "thumbs", -1),
            ],
        )
        cur.execute(
            "INSERT INTO support_tickets (conversation_id, reason, summary) "
            "VALUES ('conv-anon', 'explicit request', 'x')"
        )
        cur.executemany(
            "INSERT INTO interactions (customer_id, kind, item_id, context) "
            "VALUES ('cust-b', %s, 'MUG1', jsonb_build_object('conversation_id', 'conv-b'))",
            [("recommendation_shown",), ("recommendation_shown",), ("recommendation_clicked",)],
        )
    repository.mark_resolved("conv-b")
    found = {o.unit_id: o for o in repository.outcomes("style-test")}
    known, anonymous = found["customer:cust-b"], found["conversation:conv-anon"]
    assert (known.arm, known.csat, known.thumbs_up, known.handed_off) == (arm, 4.0, 1.0, False)
    assert known.resolved and known.time_to_resolution_s is not None
    assert (known.recommendations_shown, known.recommendations_clicked) == (2, 1)
    assert (anonymous.csat, anonymous.thumbs_up, anonymous.handed_off) == (None, 0.0, True)
    assert not anonymous.resolved
    report = analyse(repository.get("style-test"), repository.outcomes("style-test"))
    assert sum(s["csat"].n for s in [report.summaries[a] for a in ("bandit", "fixed")]) == 1


def seed_harmful_arm(db: Database, repository: ExperimentRepository, experiment: Any) -> None:
    """Enough anonymous conversations in each arm, the "fixed" arm rated clearly worse."""
    n = 0
    served: dict[str, int] = {"bandit": 0, "fixed": 0}
    while min(served.values()) < GUARDRAIL_MIN_UNITS + 5:
        conversation = f"conv-{n}"
        arm = repository.enrol(experiment, Unit.for_conversation(None, conversation), conversation)
        served[arm] += 1
        score = 2 if arm == "fixed" and n % 4 else 4 + n % 2
        with db.cursor() as cur:
            cur.execute(
                "INSERT INTO feedback (conversation_id, kind, value) VALUES (%s, 'csat', %s)",
                (conversation, score),
            )
        n += 1


def test_the_guardrail_stops_a_harmful_arm_and_its_units_get_the_control(db: Database) -> None:
    repository = ExperimentRepository(db)
    experiment = style_experiment()
    repository.sync([experiment])
    seed_harmful_arm(db, repository, experiment)
    stopped = enforce_guardrails(repository)
    assert list(stopped) == ["style-test"]
    assert stopped["style-test"]["fixed"].startswith("guardrail csat: -")
    assert enforce_guardrails(repository) == {}, "stopped once"
    halted = repository.get("style-test")
    assert "fixed" in halted.stopped_arms
    # A unit the split gives "fixed" is now served the control, and told so.
    fixed_unit = next(
        r["unit_id"]
        for r in rows(db, "SELECT unit_id FROM experiment_assignments WHERE arm = 'fixed' LIMIT 1")
    )
    later = fixed_unit.removeprefix("conversation:")
    assert repository.enrol(halted, Unit.for_conversation(None, later), later) == "fixed", (
        "a conversation already exposed keeps its arm"
    )
    new = next(
        f"new-{i}" for i in range(1000) if assigned_arm(halted, f"conversation:new-{i}") == "fixed"
    )
    fresh = treatment_for(repository, None, new, RunningExperiments(ttl_s=0))
    assert fresh.arms == {"style-test": "bandit"} and fresh.fixed_style is None
    assert rows(
        db, "SELECT arm FROM experiment_assignments WHERE unit_id = %s", f"conversation:{new}"
    ) == [{"arm": "fixed"}], "the split's arm is what was assigned"


def test_treatment_reads_each_running_experiments_setting(db: Database) -> None:
    repository = ExperimentRepository(db)
    add_customer(db, "cust-c")
    repository.sync(
        [
            style_experiment(
                arms=[
                    {"name": "fixed", "style": "detailed_formal"},
                    {"name": "also-fixed", "style": "detailed_formal"},
                ]
            ),
            parse(
                {
                    "name": "no-personalization",
                    "factor": "personalization",
                    "starts": (NOW - timedelta(days=1)).isoformat(),
                    "arms": [
                        {"name": "off", "personalized": False},
                        {"name": "off-too", "personalized": False},
                    ],
                }
            ),
        ]
    )
    treatment = treatment_for(repository, "cust-c", "conv-c", RunningExperiments(ttl_s=0))
    assert set(treatment.arms) == {"style-test", "no-personalization"}
    assert treatment.fixed_style == "detailed_formal"
    assert treatment.style_for("casual") == "detailed_casual", "a stated tone is kept"
    assert treatment.personalized is False
    assert treatment.recommender == "model", "no recommender experiment: the model"
    assert treatment == type(treatment).from_slot(treatment.as_slot())
    assert rows(
        db, "SELECT count(*) AS n FROM experiment_exposures WHERE conversation_id = 'conv-c'"
    ) == [{"n": 2}]


def test_an_arm_with_assigned_units_cannot_be_renamed_and_a_future_one_is_cancelled(
    db: Database,
) -> None:
    repository = ExperimentRepository(db)
    experiment = style_experiment()
    future = parse(
        {
            "name": "later",
            "factor": "recommender",
            "starts": "2099-01-01",
            "arms": [
                {"name": "a", "recommender": "model"},
                {"name": "b", "recommender": "popular"},
            ],
        }
    )
    repository.sync([experiment, future])
    repository.enrol(experiment, Unit.for_conversation(None, "c1"), "c1")
    repository.enrol(experiment, Unit.for_conversation(None, "c2"), "c2")
    repository.enrol(experiment, Unit.for_conversation(None, "c3"), "c3")
    assigned = {r["arm"] for r in rows(db, "SELECT arm FROM experiment_assignments")}
    renamed = style_experiment(
        arms=[
            {"name": "bandit-2", "style": "bandit"},
            {"name": "fixed-2", "style": "detailed_formal"},
        ]
    )
    with pytest.raises(ExperimentDefinitionError, match="already assigned to arm"):
        repository.sync([renamed])
    assert {a.name for a in repository.get("style-test").arms} == {"bandit", "fixed"}
    result = repository.sync([experiment])
    assert result["cancelled"] == ["later"], "never started: removed with the file's entry"
    assert [e.name for e in repository.all()] == ["style-test"]
    assert assigned


def test_the_report_counts_the_assigned_arm_after_a_stop(db: Database) -> None:
    repository = ExperimentRepository(db)
    experiment = style_experiment()
    repository.sync([experiment])
    repository.stop_arm("style-test", "fixed", "guardrail csat: test")
    halted = repository.get("style-test")
    conversation = next(
        f"x{i}" for i in range(1000) if assigned_arm(halted, f"conversation:x{i}") == "fixed"
    )
    served = repository.enrol(halted, Unit.for_conversation(None, conversation), conversation)
    assert served == "bandit"
    [outcome] = repository.outcomes("style-test")
    assert outcome.arm == "fixed", "intention to treat: the unit's arm, not what served it"
    assert repository.resume_arm("style-test", "fixed")
    assert repository.get("style-test").stopped_arms == {}


def test_broken_experiments_leave_the_session_its_bandit_style(db: Database) -> None:
    repository = ExperimentRepository(db)
    repository.sync([style_experiment()])
    with db.cursor() as cur:
        cur.execute("DROP TABLE experiment_exposures")
    treatment, style = start_session(db, None, "conv-z", None, None, styled=True)
    assert treatment == Treatment() and style in STYLES
