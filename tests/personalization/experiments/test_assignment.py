from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from personalization.experiments.assignment import Unit, assigned_arm, bucket, served_arm
from personalization.experiments.definition import parse

pytestmark = pytest.mark.fast

EXPERIMENT = parse(
    {
        "name": "split-test",
        "factor": "recommender",
        "starts": "2026-01-01",
        "arms": [
            {"name": "model", "weight": 80, "recommender": "model"},
            {"name": "popular", "weight": 20, "recommender": "popular"},
        ],
    }
)


def test_a_unit_always_gets_the_same_arm() -> None:
    first = [assigned_arm(EXPERIMENT, f"customer:c{i}") for i in range(200)]
    again = [assigned_arm(EXPERIMENT, f"customer:c{i}") for i in range(200)]
    assert first == again
    assert set(first) == {"model", "popular"}


def test_the_split_follows_the_weights() -> None:
    counts = Counter(assigned_arm(EXPERIMENT, f"customer:c{i}") for i in range(20_000))
    assert abs(counts["popular"] / 20_000 - 0.2) < 0.015


def test_experiments_reshuffle_units_independently() -> None:
    units = [f"customer:c{i}" for i in range(10_000)]
    a = [bucket("first", u) < 0.5 for u in units]
    b = [bucket("second", u) < 0.5 for u in units]
    agreement = sum(x == y for x, y in zip(a, b, strict=True)) / len(units)
    assert 0.47 < agreement < 0.53, "half agree, as for independent coin flips"


def test_customers_are_followed_and_everyone_else_is_a_conversation() -> None:
    assert Unit.for_conversation("cust-0001", "conv-1") == Unit("customer:cust-0001", "cust-0001")
    assert Unit.for_conversation(None, "conv-1") == Unit("conversation:conv-1", None)


def test_a_stopped_arm_is_served_the_control() -> None:
    assert served_arm(EXPERIMENT, "popular") == "popular"
    halted = replace(EXPERIMENT, stopped_arms={"popular": "guardrail csat"})
    assert served_arm(halted, "popular") == "model"
    assert served_arm(halted, "model") == "model"
