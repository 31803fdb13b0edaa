"""Feedback on answers, which the response-style bandit learns from."""

from __future__ import annotations

from typing import Protocol

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.support.bandit import StyleBandit
from personalization.support.feedback import is_success, record_feedback


class Feedback(Protocol):
    async def record(
        self,
        customer_id: str | None,
        conversation_id: str,
        kind: str,
        value: int,
        style: str | None,
        segment: str | None,
        learn: bool = True,
    ) -> Outcome[None]:
        """Store the feedback and, with ``learn``, reward the style it judged in the bandit
        (refused: off its scale)."""
        ...


class StoreFeedback:
    async def record(
        self,
        customer_id: str | None,
        conversation_id: str,
        kind: str,
        value: int,
        style: str | None,
        segment: str | None,
        learn: bool = True,
    ) -> Outcome[None]:
        def work() -> None:
            db = client.database()
            record_feedback(db, customer_id, conversation_id, kind, value, style)
            success = is_success(kind, value)
            if learn and style is not None and success is not None:
                StyleBandit(db).reward(segment, style, success)

        return await client.run("feedback", work)


feedback_store: Provider[Feedback] = Provider(StoreFeedback)
