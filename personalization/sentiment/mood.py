"""The customer's mood over a conversation: a decayed average of message scores and its trend.

Recent messages weigh more (half-life of two messages), so one angry line moves the mood but
a recovery is also seen quickly. The trend compares a fast and a slow average: when the fast
one falls clearly below the slow one the conversation is getting worse.
"""

from __future__ import annotations

from dataclasses import dataclass

_FAST, _SLOW = 0.5, 0.2  # weights of the newest message
_TREND_MARGIN = 0.15


@dataclass(frozen=True)
class Mood:
    value: float = 0.0
    slow: float = 0.0
    messages: int = 0

    def update(self, score: float) -> Mood:
        if self.messages == 0:
            return Mood(score, score, 1)
        return Mood(
            value=(1 - _FAST) * self.value + _FAST * score,
            slow=(1 - _SLOW) * self.slow + _SLOW * score,
            messages=self.messages + 1,
        )

    @property
    def trend(self) -> str:
        if self.messages < 2:
            return "steady"
        difference = self.value - self.slow
        if difference < -_TREND_MARGIN:
            return "worsening"
        if difference > _TREND_MARGIN:
            return "improving"
        return "steady"
