"""What an experiment is, and how it is read from `experiments.yml`.

A file in git is where bot designers already work: an experiment is reviewed like a story,
and `personalization experiment sync` writes it to the `experiments` table the servers read.
Every mistake is refused with the experiment's name and the field, before anything is stored.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from personalization.support.bandit import STYLES

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

#: What an arm may change, and the one setting each factor reads from the arm.
FACTORS: dict[str, str] = {
    "personalization": "personalized",
    "response_style": "style",
    "recommender": "recommender",
}
RECOMMENDERS = ("model", "popular")

#: Outcomes per arm; True where higher is better.
METRICS: dict[str, bool] = {
    "csat": True,
    "thumbs_up_rate": True,
    "resolved_without_handoff": True,
    "handoff_rate": False,
    "recommendation_ctr": True,
    "time_to_resolution_s": False,
}


class ExperimentDefinitionError(ValueError):
    """An experiment file or entry the bot cannot run; the message names what to fix."""


@dataclass(frozen=True)
class Arm:
    name: str
    weight: float
    setting: Any  # personalized: bool; style: "bandit" or a style; recommender: model|popular


@dataclass(frozen=True)
class Experiment:
    name: str
    factor: str
    arms: tuple[Arm, ...]
    control_arm: str
    primary_metric: str
    starts_at: datetime
    stops_at: datetime | None = None
    guardrails: tuple[str, ...] = ("csat",)
    description: str = ""
    stopped_arms: dict[str, str] = field(default_factory=dict)

    def arm(self, name: str) -> Arm:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise KeyError(name)

    def running_at(self, moment: datetime) -> bool:
        return self.starts_at <= moment and (self.stops_at is None or moment < self.stops_at)

    def as_row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "factor": self.factor,
            "description": self.description,
            "arms": [{"name": a.name, "weight": a.weight, "setting": a.setting} for a in self.arms],
            "control_arm": self.control_arm,
            "primary_metric": self.primary_metric,
            "guardrails": list(self.guardrails),
            "starts_at": self.starts_at,
            "stops_at": self.stops_at,
        }


def load_file(path: Path) -> list[Experiment]:
    """Every experiment in the file, checked; an overlap on one factor is refused too."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExperimentDefinitionError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ExperimentDefinitionError(f"{path} is not valid YAML: {exc}") from exc
    entries = (document or {}).get("experiments") if isinstance(document, dict) else None
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ExperimentDefinitionError(f"{path}: `experiments` must be a list")
    experiments = [parse(entry) for entry in entries]
    check_no_overlap(experiments)
    return experiments


def parse(entry: Any) -> Experiment:
    if not isinstance(entry, dict):
        raise ExperimentDefinitionError("each experiment must be a mapping")
    name = str(entry.get("name", ""))
    if not NAME.match(name):
        raise ExperimentDefinitionError(
            f"experiment name {name!r}: lower-case letters, digits, - and _, at most 64"
        )

    def fail(message: str) -> ExperimentDefinitionError:
        return ExperimentDefinitionError(f"experiment {name}: {message}")

    factor = entry.get("factor")
    if factor not in FACTORS:
        raise fail(f"factor must be one of {', '.join(FACTORS)}, got {factor!r}")
    arms = tuple(_arm(raw, factor, fail) for raw in entry.get("arms") or [])
    if len(arms) < 2:
        raise fail("needs at least two arms")
    if len({a.name for a in arms}) != len(arms):
        raise fail("arm names must be unique")
    control = entry.get("control", arms[0].name)
    if control not in {a.name for a in arms}:
        raise fail(f"control {control!r} is not one of its arms")
    primary = entry.get("primary_metric", "csat")
    guardrails = tuple(entry.get("guardrails", ["csat"]) or ())
    for metric in (primary, *guardrails):
        if metric not in METRICS:
            raise fail(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    starts_at = _moment(entry.get("starts"), fail, "starts")
    stops_raw = entry.get("stops")
    stops_at = None if stops_raw is None else _moment(stops_raw, fail, "stops")
    if starts_at is None:
        raise fail("needs a start (starts: YYYY-MM-DD)")
    if stops_at is not None and stops_at <= starts_at:
        raise fail("stops before it starts")
    return Experiment(
        name=name,
        factor=factor,
        arms=arms,
        control_arm=control,
        primary_metric=primary,
        starts_at=starts_at,
        stops_at=stops_at,
        guardrails=guardrails,
        description=str(entry.get("description", "")).strip(),
    )


def _arm(raw: Any, factor: str, fail: Any) -> Arm:
    if not isinstance(raw, dict) or not NAME.match(str(raw.get("name", ""))):
        raise fail("each arm needs a name (lower-case letters, digits, - and _)")
    name = str(raw["name"])
    weight = raw.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
        raise fail(f"arm {name}: weight must be a positive number")
    key = FACTORS[factor]
    if key not in raw:
        raise fail(f"arm {name}: a {factor} experiment sets `{key}` on every arm")
    setting = raw[key]
    valid = {
        "personalization": isinstance(setting, bool),
        "response_style": setting == "bandit" or setting in STYLES,
        "recommender": setting in RECOMMENDERS,
    }[factor]
    if not valid:
        raise fail(f"arm {name}: {key} {setting!r} is not valid for a {factor} experiment")
    return Arm(name, float(weight), setting)


def _moment(value: Any, fail: Any, label: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise fail(f"{label} is not an ISO date: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def check_no_overlap(experiments: list[Experiment]) -> None:
    """Two experiments on one factor at once would each change what the other measures."""
    by_factor: dict[str, list[Experiment]] = {}
    for experiment in experiments:
        by_factor.setdefault(experiment.factor, []).append(experiment)
    for factor, group in by_factor.items():
        group.sort(key=lambda e: e.starts_at)
        for earlier, later in itertools.pairwise(group):
            if earlier.stops_at is None or later.starts_at < earlier.stops_at:
                raise ExperimentDefinitionError(
                    f"experiments {earlier.name} and {later.name} both change {factor} at "
                    "the same time; give the first a stop before the second starts"
                )
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        raise ExperimentDefinitionError("experiment names must be unique")
