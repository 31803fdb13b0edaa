"""What the running experiments change for one conversation, and the guardrail that stops
an arm doing harm.

The action server asks once per session (`treatment_for`); the running experiments are read
at most every `CACHE_S` per process, so a session start costs one insert per experiment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg2

from personalization.experiments.analysis import guardrail_breaches
from personalization.experiments.assignment import Unit
from personalization.experiments.definition import FACTORS, Experiment
from personalization.experiments.repository import ExperimentRepository
from personalization.profile import CustomerContext
from personalization.store import Database
from personalization.support.bandit import StyleBandit

CACHE_S = 30.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Treatment:
    """The arm of each running experiment, and the setting each factor gets from it."""

    arms: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def personalized(self) -> bool:
        """False only when an arm serves this conversation without personalization."""
        return self.settings.get(FACTORS["personalization"]) is not False

    @property
    def fixed_style(self) -> str | None:
        """A style an arm fixes; None where the bandit chooses (the default)."""
        style = self.settings.get(FACTORS["response_style"])
        return None if style in (None, "bandit") else str(style)

    def style_for(self, tone: str | None) -> str | None:
        """The arm's fixed style in the tone the customer asked for (a stated preference is
        never overridden); None where the bandit chooses."""
        style = self.fixed_style
        if style is None or tone not in ("formal", "casual"):
            return style
        return f"{style.rsplit('_', 1)[0]}_{tone}"

    def serve(self, context: CustomerContext) -> CustomerContext:
        """The profile as this arm serves it: without personalization, like a customer who
        did not allow it (generic greeting and answers, nothing new recorded about them)."""
        return context if self.personalized else replace(context, personalization_allowed=False)

    @property
    def recommender(self) -> str:
        return str(self.settings.get(FACTORS["recommender"]) or "model")

    def as_slot(self) -> dict[str, Any] | None:
        return {"arms": self.arms, "settings": self.settings} if self.arms else None

    @classmethod
    def from_slot(cls, value: Any) -> Treatment:
        if not isinstance(value, dict):
            return cls()
        arms, settings = value.get("arms"), value.get("settings")
        return cls(
            dict(arms) if isinstance(arms, dict) else {},
            dict(settings) if isinstance(settings, dict) else {},
        )


class RunningExperiments:
    """The running experiments per database, re-read at most every `ttl_s` (an arm stopped
    by the guardrail is served as control everywhere within that time)."""

    def __init__(self, ttl_s: float = CACHE_S, clock: Callable[[], float] = time.monotonic):
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._read: dict[str, tuple[float, list[Experiment]]] = {}

    def get(self, repository: ExperimentRepository) -> list[Experiment]:
        with self._lock:
            now = self._clock()
            read = self._read.get(repository.source)
            if read is None or now - read[0] >= self._ttl_s:
                read = self._read[repository.source] = (now, repository.running())
            return list(read[1])


_running = RunningExperiments()


def treatment_for(
    repository: ExperimentRepository,
    customer_id: str | None,
    conversation_id: str,
    running: RunningExperiments = _running,
) -> Treatment:
    """Enrol this conversation in every running experiment and say what it gets.

    `customer_id` is given only for a customer who allows personalization; anyone else is
    assigned per conversation, so nothing follows them across sessions.
    """
    unit = Unit.for_conversation(customer_id, conversation_id)
    arms: dict[str, str] = {}
    settings: dict[str, Any] = {}
    for experiment in running.get(repository):
        arm = repository.enrol(experiment, unit, conversation_id)
        arms[experiment.name] = arm
        settings[FACTORS[experiment.factor]] = experiment.arm(arm).setting
    return Treatment(arms, settings)


def start_session(
    db: Database,
    customer_id: str | None,
    conversation_id: str,
    segment: str | None,
    tone: str | None,
    styled: bool,
) -> tuple[Treatment, str | None]:
    """A session's arms and, when it gets one (`styled`), its response style: the arm's
    fixed style, else the bandit's pick for the segment. One store call, so a database that
    does not answer costs a session start one timeout, not two."""
    try:
        treatment = treatment_for(ExperimentRepository(db), customer_id, conversation_id)
    except (psycopg2.ProgrammingError, psycopg2.IntegrityError) as exc:
        # Experiments broken (tables missing, a customer erased meanwhile): the session
        # goes on without them, and still gets the bandit's style. An outage raises.
        log.error("experiments skipped for a session (%s)", type(exc).__name__)
        treatment = Treatment()
    if not (styled and treatment.personalized):
        return treatment, None
    return treatment, treatment.style_for(tone) or StyleBandit(db).choose(segment, tone)


def enforce_guardrails(repository: ExperimentRepository) -> dict[str, dict[str, str]]:
    """Stop every running arm a guardrail metric shows worse than its control."""
    stopped: dict[str, dict[str, str]] = {}
    for experiment in repository.running():
        breaches = guardrail_breaches(experiment, repository.outcomes(experiment.name))
        for arm, reason in breaches.items():
            if repository.stop_arm(experiment.name, arm, reason):
                stopped.setdefault(experiment.name, {})[arm] = reason
    return stopped
