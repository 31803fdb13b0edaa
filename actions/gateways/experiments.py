"""Running experiments: the arms serving a conversation, and its resolution."""

from __future__ import annotations

from typing import Protocol

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.experiments.repository import ExperimentRepository
from personalization.experiments.treatment import Treatment, start_session


class Experiments(Protocol):
    async def start_session(
        self,
        customer_id: str | None,
        conversation_id: str,
        segment: str | None,
        tone: str | None,
        styled: bool,
    ) -> Outcome[tuple[Treatment, str | None]]:
        """Enrol the conversation in every running experiment (``customer_id`` only for a
        customer who allows personalization); its arms, and its style if ``styled``."""
        ...

    async def mark_resolved(self, conversation_id: str) -> Outcome[int]: ...


class StoreExperiments:
    async def start_session(
        self,
        customer_id: str | None,
        conversation_id: str,
        segment: str | None,
        tone: str | None,
        styled: bool,
    ) -> Outcome[tuple[Treatment, str | None]]:
        return await client.run(
            "session treatment",
            lambda: start_session(
                client.database(), customer_id, conversation_id, segment, tone, styled
            ),
        )

    async def mark_resolved(self, conversation_id: str) -> Outcome[int]:
        return await client.run(
            "resolution",
            lambda: ExperimentRepository(client.database()).mark_resolved(conversation_id),
        )


experiment_store: Provider[Experiments] = Provider(StoreExperiments)
