"""Feedback on answers, which the response-style bandit learns from."""

from __future__ import annotations

from typing import Protocol

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.support.feedback import FeedbackRepository


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
        return await client.run(
            "feedback",
            lambda: FeedbackRepository(client.database()).record_and_learn(
                customer_id, conversation_id, kind, value, style, segment, learn
            ),
        )


feedback_store: Provider[Feedback] = Provider(StoreFeedback)
