"""Support work kept in the store: hand-off tickets, returns, and each message's sentiment."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.support.conversation_log import ConversationLog
from personalization.support.orders import Order
from personalization.support.returns import ReturnDecision, ReturnService
from personalization.support.tickets import Ticket, TicketRepository


class Support(Protocol):
    async def open_ticket(
        self,
        customer_id: str | None,
        conversation_id: str,
        reason: str,
        priority: str,
        summary: str,
        context: dict[str, Any],
    ) -> Outcome[Ticket]:
        """One open ticket per conversation: a second hand-off adds to the first."""
        ...

    async def request_return(
        self,
        order: Order,
        item: str | None,
        segment: str | None,
        conversation_id: str,
        reason: str | None = None,
    ) -> Outcome[ReturnDecision]:
        """The policy's decision; an accepted return is recorded with it (and the reason)."""
        ...

    async def record_sentiment(
        self, customer_id: str, conversation_id: str, score: float, label: str
    ) -> Outcome[None]: ...


class StoreSupport:
    async def open_ticket(
        self,
        customer_id: str | None,
        conversation_id: str,
        reason: str,
        priority: str,
        summary: str,
        context: dict[str, Any],
    ) -> Outcome[Ticket]:
        return await client.run(
            "ticket",
            lambda: TicketRepository(client.database()).open(
                customer_id, conversation_id, reason, priority, summary, context
            ),
        )

    async def request_return(
        self,
        order: Order,
        item: str | None,
        segment: str | None,
        conversation_id: str,
        reason: str | None = None,
    ) -> Outcome[ReturnDecision]:
        def work() -> ReturnDecision:
            service = ReturnService(client.database())
            decision = service.decide(order, item, segment, date.today())
            if not decision.accepted:
                return decision
            return service.record(order, decision, conversation_id, reason)

        return await client.run("return", work)

    async def record_sentiment(
        self, customer_id: str, conversation_id: str, score: float, label: str
    ) -> Outcome[None]:
        return await client.run(
            "sentiment record",
            lambda: ConversationLog(client.database()).record_sentiment(
                customer_id, conversation_id, score, label
            ),
        )


support_store: Provider[Support] = Provider(StoreSupport)
