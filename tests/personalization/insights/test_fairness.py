from __future__ import annotations

import random
from typing import Any

import pytest

from personalization.insights.fairness import MIN_GROUP, audit

pytestmark = pytest.mark.fast


def conversations(
    country: str, customers: int, exposure: float, seed: int, per_customer: int = 3
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "customer_id": f"{country}-{c}",
            "country": country,
            "segment": "Loyal",
            "exposed": rng.random() < exposure,
            "handed_off": rng.random() < 0.1,
            "csat": float(rng.choice([3, 4, 5])) if rng.random() < 0.5 else None,
        }
        for c in range(customers)
        for _ in range(per_customer)
    ]


def test_a_real_gap_is_flagged_and_noise_is_not() -> None:
    rows = conversations("France", 60, 0.6, 1) + conversations("Spain", 60, 0.2, 2)
    result = audit(rows, "country")
    assert result.gaps["exposure_rate"] > 0.3
    assert any(f.startswith("exposure rate differs by") for f in result.flags)
    same = conversations("France", 60, 0.4, 3) + conversations("Spain", 60, 0.4, 4)
    assert not [f for f in audit(same, "country").flags if f.startswith("exposure")]


def test_a_customer_counts_once_and_small_groups_are_not_compared() -> None:
    chatty = conversations("France", 1, 1.0, 5, per_customer=500)  # one customer, always shown
    rows = conversations("Spain", 40, 0.2, 6) + chatty
    result = audit(rows, "country")
    france = next(g for g in result.groups if g.name == "France")
    assert (france.customers, france.conversations) == (1, 500)
    assert not france.compared and MIN_GROUP > 1
    assert result.gaps["exposure_rate"] is None, "one group left to compare: no gap"
    assert result.flags == []
