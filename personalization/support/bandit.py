"""Which response style works for which segment, learnt from feedback by Thompson sampling.

Each (segment, style) pair is a Beta-Bernoulli arm: thumbs up or a CSAT of 4–5 is a success,
thumbs down or 1–2 a failure. Sampling from the posteriors keeps trying styles that might be
better while mostly using the best known one. The counts live in PostgreSQL, so the learning
survives restarts and is shared by every action-server process; they are per segment and hold
nothing about any one customer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from personalization.store import Database

STYLES = ("concise_casual", "concise_formal", "detailed_casual", "detailed_formal")
UNKNOWN_SEGMENT = "unknown"


@dataclass(frozen=True)
class ArmCounts:
    successes: int
    failures: int


def thompson_choice(arms: dict[str, ArmCounts], allowed: list[str], rng: random.Random) -> str:
    """One draw from each allowed arm's Beta posterior; the highest draw wins."""
    draws = {
        style: rng.betavariate(1 + arms[style].successes, 1 + arms[style].failures)
        for style in allowed
    }
    return max(draws, key=draws.__getitem__)


class StyleBandit:
    def __init__(self, db: Database, rng: random.Random | None = None) -> None:
        self._db = db
        self._rng = rng or random.Random()

    def counts(self, segment: str | None) -> dict[str, ArmCounts]:
        with self._db.cursor() as cur:
            cur.execute(
                "SELECT arm, successes, failures FROM style_bandit_arms WHERE segment = %s",
                (segment or UNKNOWN_SEGMENT,),
            )
            stored = {r["arm"]: ArmCounts(r["successes"], r["failures"]) for r in cur.fetchall()}
        return {style: stored.get(style, ArmCounts(0, 0)) for style in STYLES}

    def choose(self, segment: str | None, tone: str | None = None) -> str:
        """A style for the next answers; a stated tone preference limits the choice to it."""
        allowed = [s for s in STYLES if tone not in ("formal", "casual") or s.endswith(tone)]
        return thompson_choice(self.counts(segment), allowed, self._rng)

    def reward(self, segment: str | None, style: str, success: bool) -> None:
        if style not in STYLES:
            raise ValueError(f"unknown response style {style!r}")
        column = "successes" if success else "failures"
        with self._db.cursor() as cur:
            cur.execute(
                f"""INSERT INTO style_bandit_arms (segment, arm, {column}) VALUES (%s, %s, 1)
                    ON CONFLICT (segment, arm) DO UPDATE
                    SET {column} = style_bandit_arms.{column} + 1, updated_at = now()""",
                (segment or UNKNOWN_SEGMENT, style),
            )
