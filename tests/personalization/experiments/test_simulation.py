"""The simulator on customers in real PostgreSQL, and what it proves about the report."""

from __future__ import annotations

import random

import pytest

from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.experiments.simulation import (
    SEGMENT_MOOD,
    EmptyPopulation,
    SimulatedCustomer,
    aa_false_positive_rate,
    bandit_regret,
    csat_shift_for,
    hidden_preferences,
    load_population,
    power,
    simulate_experiment,
)
from personalization.segments import Segmenter
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from personalization.support.bandit import STYLES


def synthetic_population(n: int, seed: int = 5) -> list[SimulatedCustomer]:
    rng = random.Random(seed)
    segments = list(SEGMENT_MOOD)
    return [
        hidden_preferences(f"c{i}", rng.choice(segments), rng.randint(1, 20), rng) for i in range(n)
    ]


def test_the_population_is_the_shops_segmented_customers(db: Database) -> None:
    with pytest.raises(EmptyPopulation, match="personalization segment"):
        load_population(db, random.Random(1))
    load_demo_customers(CustomerRepository(db))
    load_demo_shop(db, demo_customers())
    Segmenter(db).run()
    population = load_population(db, random.Random(1))
    with db.cursor() as cur:
        cur.execute("SELECT customer_id, segment FROM segment_assignments")
        segments = {r["customer_id"]: r["segment"] for r in cur.fetchall()}
    assert {c.customer_id: c.segment for c in population} == segments
    assert all(c.liked_style in STYLES for c in population)


def test_the_injected_shift_raises_the_mean_rating_by_the_effect() -> None:
    rng = random.Random(4)
    shift = csat_shift_for(0.3, rng)
    population = synthetic_population(3000)
    _, control = simulate_experiment(population, "shift-a", 3000, 0.0, random.Random(8))
    _, treated = simulate_experiment(population, "shift-a", 3000, shift, random.Random(8))
    rated = [
        (c.csat, t.csat)
        for c, t in zip(control, treated, strict=True)
        if c.csat is not None and t.arm == "treatment"
    ]
    rise = sum(t - c for c, t in rated) / len(rated)
    assert 0.25 < rise < 0.35


def test_identical_arms_rarely_differ_and_a_real_effect_is_found() -> None:
    population = synthetic_population(2500)
    aa = aa_false_positive_rate(population, runs=40, customers=1500, seed=11)
    assert aa.rate <= 0.1, aa
    found = power(population, runs=20, customers=2000, effect=0.5, seed=12)
    assert found.rate >= 0.9, found
    none = power(population, runs=20, customers=2000, effect=0.0, seed=13)
    assert none.rate <= 0.15, "no effect: found about as often as alpha"


def test_the_bandit_learns_what_one_fixed_style_cannot() -> None:
    result = bandit_regret(synthetic_population(2000), rounds=8000, seed=3)
    assert result.best_fixed_style in STYLES
    assert result.regret_vs_best_fixed < 0, "per-segment learning beats the best single style"
    assert result.bandit_success_rate < result.oracle_success_rate
