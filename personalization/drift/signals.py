"""What the bot saw in a period, read from where it is recorded, and kept as a reference.

- intent confidence of typed customer messages (button payloads are left out: they are
  always certain), from the conversation events;
- the fallback rate: messages whose intent was `nlu_fallback`, per typed message;
- the sentiment score and label of each message (`message_sentiment`);
- recommendation click-through: clicks per product shown (`interactions`).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from psycopg2.extras import Json

from personalization.store import Database

#: A reference keeps at most this many values per distribution (a random sample).
SAMPLE_CAP = 5000
FALLBACK_INTENT = "nlu_fallback"


@dataclass
class Window:
    intent_confidence: list[float] = field(default_factory=list)
    fallbacks: tuple[int, int] = (0, 0)  # (fallback messages, typed messages)
    sentiment_scores: list[float] = field(default_factory=list)
    sentiment_labels: dict[str, int] = field(default_factory=dict)
    recommendation_clicks: tuple[int, int] = (0, 0)  # (clicked, shown)

    def sampled(self, cap: int = SAMPLE_CAP, seed: int = 0) -> Window:
        rng = random.Random(seed)

        def cut(values: list[float]) -> list[float]:
            return values if len(values) <= cap else rng.sample(values, cap)

        return Window(
            cut(self.intent_confidence),
            self.fallbacks,
            cut(self.sentiment_scores),
            dict(self.sentiment_labels),
            self.recommendation_clicks,
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Window:
        return cls(
            [float(v) for v in data.get("intent_confidence", [])],
            tuple(data.get("fallbacks", (0, 0))),  # type: ignore[arg-type]
            [float(v) for v in data.get("sentiment_scores", [])],
            {str(k): int(v) for k, v in (data.get("sentiment_labels") or {}).items()},
            tuple(data.get("recommendation_clicks", (0, 0))),  # type: ignore[arg-type]
        )


def read_window(db: Database, start: datetime, end: datetime) -> Window:
    with db.cursor() as cur:
        cur.execute(
            """SELECT (e.body -> 'parse_data' -> 'intent' ->> 'confidence')::float AS confidence,
                      e.body -> 'parse_data' -> 'intent' ->> 'name' AS intent
               FROM (SELECT event_json(data) AS body FROM events
                     WHERE event_time(data) >= %s AND event_time(data) < %s) e
               WHERE e.body ->> 'event' = 'user'
                 AND coalesce(e.body ->> 'text', '') NOT LIKE '/%%'
                 AND e.body -> 'parse_data' -> 'intent' ->> 'name' IS NOT NULL""",
            (start, end),
        )
        messages = cur.fetchall()
        cur.execute(
            """SELECT score, label FROM message_sentiment
               WHERE created_at >= %s AND created_at < %s""",
            (start, end),
        )
        moods = cur.fetchall()
        cur.execute(
            """SELECT count(*) FILTER (WHERE kind = 'recommendation_clicked') AS clicked,
                      count(*) FILTER (WHERE kind = 'recommendation_shown') AS shown
               FROM interactions
               WHERE kind IN ('recommendation_shown', 'recommendation_clicked')
                 AND occurred_at >= %s AND occurred_at < %s""",
            (start, end),
        )
        clicks = cur.fetchone()
    labels: dict[str, int] = {}
    for row in moods:
        labels[row["label"]] = labels.get(row["label"], 0) + 1
    return Window(
        intent_confidence=[float(m["confidence"]) for m in messages if m["confidence"] is not None],
        fallbacks=(sum(m["intent"] == FALLBACK_INTENT for m in messages), len(messages)),
        sentiment_scores=[float(r["score"]) for r in moods],
        sentiment_labels=labels,
        recommendation_clicks=(int(clicks["clicked"]), int(clicks["shown"])),
    )


@dataclass(frozen=True)
class Reference:
    window: Window
    window_from: datetime
    window_to: datetime
    reason: str
    saved_at: datetime | None  # None: not saved, the period before the one checked


class ReferenceRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, window: Window, start: datetime, end: datetime, reason: str) -> int:
        with self._db.cursor() as cur:
            cur.execute(
                """INSERT INTO drift_references (window_from, window_to, reason, samples)
                   VALUES (%s, %s, %s, %s) RETURNING id""",
                (start, end, reason, Json(window.sampled().as_json())),
            )
            return int(cur.fetchone()["id"])

    def latest(self) -> Reference | None:
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT window_from, window_to, reason, samples, created_at
                   FROM drift_references ORDER BY created_at DESC, id DESC LIMIT 1"""
            )
            row = cur.fetchone()
        if row is None:
            return None
        return Reference(
            Window.from_json(row["samples"]),
            row["window_from"],
            row["window_to"],
            row["reason"],
            row["created_at"],
        )
