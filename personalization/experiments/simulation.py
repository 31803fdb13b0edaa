"""A conversation simulator that proves the experiment report and measures the bandit.

Customers are drawn from the shop's own customers (the Online Retail import, or the demo
shop), each with their real segment and purchase frequency, and given hidden preferences: how
satisfied they tend to be, the response style they like, how often they rate, click, or ask
for a person. Conversations go through the same assignment (`assigned_arm`) and the same
analysis (`analyse`) as live traffic; only the outcomes are invented.

- `aa_false_positive_rate`: both arms identical; how often the report claims a difference.
- `power`: a true CSAT effect is injected into one arm; how often the report finds it.
- `bandit_regret`: the style bandit against the best fixed style, on the same customers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from personalization.experiments.analysis import (
    ConversationOutcome,
    Report,
    analyse,
    guardrail_breaches,
    wilson_interval,
)
from personalization.experiments.assignment import assigned_arm
from personalization.experiments.definition import Arm, Experiment
from personalization.store import Database
from personalization.support.bandit import STYLES, ArmCounts, thompson_choice

# How each segment's customers lean, before each customer's own draw. Loyal customers are a
# little happier, and some segments lean to one style: that is what a per-segment bandit
# can learn and a single fixed style cannot.
SEGMENT_MOOD = {
    "Champions": 0.35,
    "Loyal": 0.25,
    "Potential loyalist": 0.1,
    "New": 0.0,
    "At risk": -0.3,
    "Hibernating": -0.2,
    "Lost": -0.35,
}
SEGMENT_STYLE = {
    "Champions": "concise_casual",
    "Loyal": "detailed_casual",
    "Potential loyalist": "concise_casual",
    "New": "detailed_casual",
    "At risk": "detailed_formal",
    "Hibernating": "concise_formal",
    "Lost": "concise_formal",
}
CSAT_BASE = 3.7
CSAT_NOISE = 0.9
RATING_RATE = 0.35  # share of conversations that end with a CSAT
THUMBS_RATE = 0.6
STYLE_BONUS = 0.2  # how much the liked style raises the chance of a good answer


class EmptyPopulation(RuntimeError):
    """No segmented customers to draw from."""


@dataclass(frozen=True)
class SimulatedCustomer:
    customer_id: str
    segment: str
    frequency: int
    mood: float  # hidden: how satisfied this customer tends to be
    liked_style: str  # hidden


def load_population(db: Database, rng: random.Random) -> list[SimulatedCustomer]:
    """The shop's segmented customers, each with hidden preferences drawn for this run."""
    with db.cursor() as cur:
        cur.execute(
            """SELECT customer_id, segment, frequency FROM segment_assignments
               ORDER BY customer_id"""
        )
        rows = cur.fetchall()
    if not rows:
        raise EmptyPopulation(
            "no segmented customers: import the orders and run `personalization segment`"
        )
    return [hidden_preferences(r["customer_id"], r["segment"], r["frequency"], rng) for r in rows]


def hidden_preferences(
    customer_id: str, segment: str, frequency: int, rng: random.Random
) -> SimulatedCustomer:
    lean = SEGMENT_MOOD.get(segment, 0.0)
    liked = SEGMENT_STYLE.get(segment) if rng.random() < 0.6 else None
    return SimulatedCustomer(
        customer_id,
        segment,
        max(1, int(frequency)),
        mood=rng.gauss(lean, 0.6),
        liked_style=liked or rng.choice(STYLES),
    )


def draw_customers(
    population: Sequence[SimulatedCustomer], n: int, rng: random.Random
) -> list[SimulatedCustomer]:
    """n distinct customers, the frequent buyers likelier to be chatting."""
    n = min(n, len(population))
    weights = [math.log1p(c.frequency) + 1 for c in population]
    chosen: dict[str, SimulatedCustomer] = {}
    while len(chosen) < n:
        for customer in rng.choices(population, weights=weights, k=n - len(chosen)):
            chosen.setdefault(customer.customer_id, customer)
    return list(chosen.values())


def csat_shift_for(effect: float, rng: random.Random, samples: int = 200_000) -> float:
    """The shift of the latent satisfaction that raises the mean *rating* (1-5, rounded and
    clipped) by exactly `effect`, so "a true effect of +0.3" means +0.3 on the scale."""
    draws = np.random.default_rng(rng.randrange(2**32))
    latent = CSAT_BASE + draws.normal(0, 0.6, samples) + draws.normal(0, CSAT_NOISE, samples)

    def rise(shift: float) -> float:
        return float(
            np.clip(np.rint(latent + shift), 1, 5).mean() - np.clip(np.rint(latent), 1, 5).mean()
        )

    low, high = 0.0, 2.0
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if rise(middle) < effect else (low, middle)
    return (low + high) / 2


def conversation(
    customer: SimulatedCustomer, arm: str, style: str, csat_shift: float, rng: random.Random
) -> ConversationOutcome:
    """What one conversation with this customer produces; `csat_shift` is the arm's effect."""
    liked = style == customer.liked_style
    latent = CSAT_BASE + customer.mood + (STYLE_BONUS if liked else 0.0) + csat_shift
    csat = None
    if rng.random() < RATING_RATE:
        csat = float(min(5, max(1, round(latent + rng.gauss(0, CSAT_NOISE)))))
    thumbs = None
    if rng.random() < THUMBS_RATE:
        thumbs = float(rng.random() < _success_chance(customer, style))
    handed_off = rng.random() < _sigmoid(-2.2 - customer.mood)
    resolved = not handed_off and rng.random() < 0.85
    shown = 3 if rng.random() < 0.3 else 0
    clicked = sum(rng.random() < 0.12 for _ in range(shown))
    return ConversationOutcome(
        arm=arm,
        unit_id=f"customer:{customer.customer_id}",
        csat=csat,
        thumbs_up=thumbs,
        handed_off=handed_off,
        resolved=resolved,
        time_to_resolution_s=rng.lognormvariate(math.log(150), 0.6) if resolved else None,
        recommendations_shown=shown,
        recommendations_clicked=clicked,
    )


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def two_arm_experiment(name: str) -> Experiment:
    return Experiment(
        name=name,
        factor="personalization",
        arms=(Arm("control", 1.0, True), Arm("treatment", 1.0, True)),
        control_arm="control",
        primary_metric="csat",
        starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )


def simulate_experiment(
    population: Sequence[SimulatedCustomer],
    name: str,
    customers: int,
    csat_shift: float,
    rng: random.Random,
) -> tuple[Experiment, list[ConversationOutcome]]:
    """One experiment's traffic: each customer has 1-3 conversations, in the arm the real
    assignment gives them; the treatment arm's ratings are shifted by `csat_shift`."""
    experiment = two_arm_experiment(name)
    outcomes = []
    for customer in draw_customers(population, customers, rng):
        arm = assigned_arm(experiment, f"customer:{customer.customer_id}")
        shift = csat_shift if arm == "treatment" else 0.0
        for _ in range(1 + min(2, int(rng.expovariate(1.5)))):
            outcomes.append(conversation(customer, arm, rng.choice(STYLES), shift, rng))
    return experiment, outcomes


@dataclass(frozen=True)
class RateResult:
    runs: int
    hits: int
    customers: int

    @property
    def rate(self) -> float:
        return self.hits / self.runs

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the rate over the runs."""
        return wilson_interval(self.hits, self.runs) or (0.0, 1.0)


def aa_false_positive_rate(
    population: Sequence[SimulatedCustomer], runs: int, customers: int, seed: int
) -> RateResult:
    """Runs in which the report says the two identical arms differ on any metric."""
    rng = random.Random(seed)
    hits = 0
    for run in range(runs):
        experiment, outcomes = simulate_experiment(
            population, f"sim-aa-{seed}-{run}", customers, 0.0, rng
        )
        hits += analyse(experiment, outcomes).any_difference
    return RateResult(runs, hits, customers)


def power(
    population: Sequence[SimulatedCustomer], runs: int, customers: int, effect: float, seed: int
) -> RateResult:
    """Runs in which the report finds the treatment's CSAT significantly better."""
    rng = random.Random(seed)
    shift = csat_shift_for(effect, rng)
    hits = 0
    for run in range(runs):
        experiment, outcomes = simulate_experiment(
            population, f"sim-power-{seed}-{run}", customers, shift, rng
        )
        hits += detected(analyse(experiment, outcomes))
    return RateResult(runs, hits, customers)


def guardrail_false_stops(
    population: Sequence[SimulatedCustomer], runs: int, customers: int, seed: int
) -> RateResult:
    """Runs in which the guardrail (every look up to the run's size) stops one of two
    identical arms."""
    rng = random.Random(seed)
    hits = 0
    for run in range(runs):
        experiment, outcomes = simulate_experiment(
            population, f"sim-guard-{seed}-{run}", customers, 0.0, rng
        )
        hits += bool(guardrail_breaches(experiment, outcomes))
    return RateResult(runs, hits, customers)


def detected(report: Report) -> bool:
    found = report.comparison("treatment", "csat")
    return found.significant and found.better


@dataclass(frozen=True)
class RegretResult:
    rounds: int
    best_fixed_style: str
    bandit_success_rate: float
    best_fixed_success_rate: float
    oracle_success_rate: float
    regret_vs_best_fixed: float  # expected successes lost against always the best fixed style
    regret_vs_oracle: float  # ... against each customer's liked style


def bandit_regret(population: Sequence[SimulatedCustomer], rounds: int, seed: int) -> RegretResult:
    """Thompson sampling per segment (the bot's own `thompson_choice`) on simulated feedback.

    Regret is counted in expected successes (a thumbs up or a CSAT of 4-5), so luck in the
    draws does not move it.
    """
    rng = random.Random(seed)
    counts: dict[str, dict[str, list[int]]] = {}
    expected = {
        style: sum(_success_chance(c, style) for c in population) / len(population)
        for style in STYLES
    }
    best_fixed = max(expected, key=expected.__getitem__)
    bandit = fixed = oracle = 0.0
    for _ in range(rounds):
        customer = rng.choice(population)
        arms = counts.setdefault(customer.segment, {s: [0, 0] for s in STYLES})
        choice = thompson_choice({s: ArmCounts(*arms[s]) for s in STYLES}, list(STYLES), rng)
        chance = _success_chance(customer, choice)
        bandit += chance
        fixed += _success_chance(customer, best_fixed)
        oracle += _success_chance(customer, customer.liked_style)
        if rng.random() < THUMBS_RATE:
            arms[choice][0 if rng.random() < chance else 1] += 1
    return RegretResult(
        rounds=rounds,
        best_fixed_style=best_fixed,
        bandit_success_rate=bandit / rounds,
        best_fixed_success_rate=fixed / rounds,
        oracle_success_rate=oracle / rounds,
        regret_vs_best_fixed=fixed - bandit,
        regret_vs_oracle=oracle - bandit,
    )


def _success_chance(customer: SimulatedCustomer, style: str) -> float:
    return _sigmoid(0.8 + customer.mood + (0.6 if style == customer.liked_style else 0.0))
