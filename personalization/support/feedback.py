"""Customer feedback on an answer: thumbs and CSAT, stored with the response style it judged."""

from __future__ import annotations

from personalization.store import Database
from personalization.support.bandit import StyleBandit


class FeedbackError(ValueError):
    """Feedback outside its scale."""


class FeedbackRepository:
    """Thumbs and ratings, each with the response style it judged."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        customer_id: str | None,
        conversation_id: str,
        kind: str,
        value: int,
        response_style: str | None,
    ) -> None:
        if kind == "thumbs" and value not in (-1, 1):
            raise FeedbackError("thumbs must be -1 or 1")
        if kind == "csat" and not 1 <= value <= 5:
            raise FeedbackError("CSAT must be between 1 and 5")
        if kind not in ("thumbs", "csat"):
            raise FeedbackError(f"unknown feedback kind {kind!r}")
        with self._db.cursor() as cur:
            cur.execute(
                """INSERT INTO feedback
                       (customer_id, conversation_id, kind, value, response_style)
                   VALUES (%s, %s, %s, %s, %s)""",
                (customer_id, conversation_id, kind, value, response_style),
            )

    def record_and_learn(
        self,
        customer_id: str | None,
        conversation_id: str,
        kind: str,
        value: int,
        style: str | None,
        segment: str | None,
        learn: bool = True,
    ) -> None:
        """Store the feedback and, with ``learn``, reward the style it judged: thumbs and
        clear ratings teach the segment's bandit, a CSAT of 3 nothing."""
        self.record(customer_id, conversation_id, kind, value, style)
        success = is_success(kind, value)
        if learn and style is not None and success is not None:
            StyleBandit(self._db).reward(segment, style, success)


def is_success(kind: str, value: int) -> bool | None:
    """What a piece of feedback says about the style: good, bad, or nothing (a CSAT of 3)."""
    if kind == "thumbs":
        return value > 0
    if value >= 4:
        return True
    if value <= 2:
        return False
    return None
