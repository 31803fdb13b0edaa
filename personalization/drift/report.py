"""The drift report: the last N days against the reference, signal by signal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from personalization.drift import measures
from personalization.drift.signals import Reference, ReferenceRepository, Window, read_window
from personalization.store import Database


@dataclass(frozen=True)
class DriftReport:
    current_from: datetime
    current_to: datetime
    reference: Reference
    signals: list[measures.SignalDrift]

    @property
    def moved(self) -> list[str]:
        return [s.signal for s in self.signals if s.moved]

    def as_dict(self) -> dict[str, object]:
        return {
            "current": {"from": self.current_from.isoformat(), "to": self.current_to.isoformat()},
            "reference": {
                "from": self.reference.window_from.isoformat(),
                "to": self.reference.window_to.isoformat(),
                "reason": self.reference.reason,
                "saved_at": self.reference.saved_at.isoformat()
                if self.reference.saved_at
                else None,
            },
            "signals": [s.as_dict() for s in self.signals],
            "moved": self.moved,
        }


def compare(reference: Window, current: Window) -> list[measures.SignalDrift]:
    return [
        measures.continuous(
            "intent_confidence", reference.intent_confidence, current.intent_confidence
        ),
        measures.rate("fallback_rate", reference.fallbacks, current.fallbacks),
        measures.continuous(
            "sentiment_score", reference.sentiment_scores, current.sentiment_scores
        ),
        measures.categorical(
            "sentiment_label", reference.sentiment_labels, current.sentiment_labels
        ),
        measures.rate(
            "recommendation_ctr", reference.recommendation_clicks, current.recommendation_clicks
        ),
    ]


def drift_report(db: Database, days: int, now: datetime | None = None) -> DriftReport:
    """The last ``days`` against the saved reference, or the ``days`` before them if none
    was saved (the report says which)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    end = now or datetime.now(timezone.utc)
    start = end - timedelta(days=days)
    reference = ReferenceRepository(db).latest()
    if reference is None:
        before = start - timedelta(days=days)
        reference = Reference(
            read_window(db, before, start),
            before,
            start,
            f"no saved reference: the {days} days before",
            None,
        )
    current = read_window(db, start, end)
    return DriftReport(start, end, reference, compare(reference.window, current))


def save_reference(db: Database, days: int, reason: str, now: datetime | None = None) -> int:
    """Keep the last ``days`` as the reference later periods are compared with."""
    end = now or datetime.now(timezone.utc)
    start = end - timedelta(days=days)
    return ReferenceRepository(db).save(read_window(db, start, end), start, end, reason)
