"""Feedback on answers, and the response style the bandit picks and learns from it."""

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
    ) -> Outcome[None]:
        """Store the feedback and reward the style it judged (refused: off its scale)."""
        ...

    async def choose_style(self, segment: str | None, tone: str | None) -> Outcome[str]: ...


class StoreFeedback:
    async def record(
        self,
        customer_id: str | None,
        conversation_id: str,
        kind: str,
        value: int,
        style: str | None,
        segment: str | None,
    ) -> Outcome[None]:
        def work() -> None:
            db = client.database()
            record_feedback(db, customer_id, conversation_id, kind, value, style)
            success = is_success(kind, value)
            if style is not None and success is not None:
                StyleBandit(db).reward(segment, style, success)

        return await client.run("feedback", work)

    async def choose_style(self, segment: str | None, tone: str | None) -> Outcome[str]:
        return await client.run(
            "style choice", lambda: StyleBandit(client.database()).choose(segment, tone)
        )


feedback_store: Provider[Feedback] = Provider(StoreFeedback)
