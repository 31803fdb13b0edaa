"""Which arm a unit gets: a hash of experiment and unit, so it never changes.

The same customer gets the same arm on every channel and in every session without anything
being looked up, and a new experiment reshuffles everyone independently of the last one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from personalization.experiments.definition import Experiment

_BUCKET_DIGITS = 15  # 60 bits: far finer than any traffic split


@dataclass(frozen=True)
class Unit:
    """Who an arm is assigned to: a customer who allows personalization, else a conversation
    (anonymous visitors, and customers who opted out, are never followed across sessions)."""

    unit_id: str
    customer_id: str | None

    @classmethod
    def for_conversation(cls, customer_id: str | None, conversation_id: str) -> Unit:
        if customer_id:
            return cls(f"customer:{customer_id}", customer_id)
        return cls(conversation_unit_id(conversation_id), None)


def conversation_unit_id(conversation_id: str) -> str:
    """The unit of a conversation nobody known is followed across (erasure deletes it too)."""
    return f"conversation:{conversation_id}"


def bucket(experiment: str, unit_id: str) -> float:
    """A point in [0, 1), uniform over units and independent between experiments."""
    digest = hashlib.sha256(f"{experiment}\x00{unit_id}".encode()).hexdigest()
    return int(digest[:_BUCKET_DIGITS], 16) / 16**_BUCKET_DIGITS


def assigned_arm(experiment: Experiment, unit_id: str) -> str:
    """The arm the traffic split gives this unit, stopped or not (what the report counts)."""
    point = bucket(experiment.name, unit_id) * sum(a.weight for a in experiment.arms)
    for arm in experiment.arms:
        if point < arm.weight:
            return arm.name
        point -= arm.weight
    return experiment.arms[-1].name


def served_arm(experiment: Experiment, assigned: str) -> str:
    """What the unit is served: its arm, or the control once a guardrail stopped that arm."""
    return experiment.control_arm if assigned in experiment.stopped_arms else assigned
