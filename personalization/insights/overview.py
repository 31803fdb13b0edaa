"""Everything the insights page shows for one period, gathered in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from personalization.drift.report import DriftReport, drift_report
from personalization.experiments.analysis import Report, analyse
from personalization.experiments.definition import Experiment
from personalization.experiments.repository import ExperimentRepository
from personalization.insights.fairness import Audit, audit
from personalization.insights.queries import InsightsRepository, Posterior
from personalization.store import Database

DRIFT_DAYS = 7


@dataclass
class Overview:
    since: datetime
    until: datetime
    conversations_per_day: list[dict[str, Any]]
    fallbacks_per_day: list[dict[str, Any]]
    not_understood: list[dict[str, Any]]
    moods: list[dict[str, Any]]
    escalations: list[dict[str, Any]]
    feedback: dict[str, list[dict[str, Any]]]
    click_through: dict[str, list[dict[str, Any]]]
    bandit: list[Posterior]
    experiments: list[tuple[Experiment, Report]]
    audits: list[Audit]
    last_import: dict[str, Any] | None
    missing_fields: dict[str, float]
    drift: DriftReport

    @property
    def days(self) -> int:
        return max(1, round((self.until - self.since).total_seconds() / 86400))

    @property
    def fallback_rate(self) -> float | None:
        messages = sum(r["messages"] for r in self.fallbacks_per_day)
        fallbacks = sum(r["fallbacks"] for r in self.fallbacks_per_day)
        return fallbacks / messages if messages else None


def build_overview(db: Database, days: int, now: datetime | None = None) -> Overview:
    if not 1 <= days <= 366:
        raise ValueError("the period must be 1 to 366 days")
    until = now or datetime.now(timezone.utc)
    since = until - timedelta(days=days)
    repo = InsightsRepository(db)
    experiments = ExperimentRepository(db)
    conversations = repo.conversations_of_customers(since)
    return Overview(
        since=since,
        until=until,
        conversations_per_day=repo.conversations_per_day(since),
        fallbacks_per_day=repo.fallbacks_per_day(since),
        not_understood=repo.not_understood(since),
        moods=repo.moods(since),
        escalations=repo.escalations(since),
        feedback={d: repo.feedback_by(since, d) for d in ("segment", "style", "arm")},
        click_through={d: repo.click_through_by(since, d) for d in ("segment", "reason")},
        bandit=repo.bandit_posteriors(),
        experiments=[(e, analyse(e, experiments.outcomes(e.name))) for e in experiments.all()],
        audits=[audit(conversations, "country"), audit(conversations, "segment")],
        last_import=repo.last_import(),
        missing_fields=repo.missing_profile_fields(),
        drift=drift_report(db, DRIFT_DAYS, now=until),
    )
