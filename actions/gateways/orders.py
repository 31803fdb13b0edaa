"""A customer's orders, always looked up as theirs: another customer's order is not found."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.support.order_finder import OrderMatch
from personalization.support.orders import Order, OrderRepository

# How far back "the vase" is looked for: a customer's last twenty orders.
SEARCHED_ORDERS = 20


class Orders(Protocol):
    async def order(self, order_id: str, customer_id: str) -> Outcome[Order]:
        """The order; refused when it is not this customer's (or does not exist)."""
        ...

    async def latest_ids(self, customer_id: str) -> Outcome[list[str]]: ...

    async def placed_between(
        self, customer_id: str, start: date, end: date
    ) -> Outcome[list[tuple[str, date]]]: ...

    async def recent_orders(self, customer_id: str, limit: int = 4) -> Outcome[list[Order]]:
        """The customer's latest orders with their lines, newest first, to offer as buttons."""
        ...

    async def match(
        self, customer_id: str, text: str, purpose: str | None, dont_know: bool
    ) -> Outcome[OrderMatch]:
        """Which of the customer's recent orders ``text`` means (see OrderFinder.find)."""
        ...


class StoreOrders:
    async def order(self, order_id: str, customer_id: str) -> Outcome[Order]:
        outcome = await client.run(
            "order lookup",
            lambda: OrderRepository(client.database()).for_customer(order_id, customer_id),
        )
        return outcome.found("not this customer's order")

    async def latest_ids(self, customer_id: str) -> Outcome[list[str]]:
        return await client.run(
            "recent orders", lambda: OrderRepository(client.database()).latest_ids(customer_id)
        )

    async def placed_between(
        self, customer_id: str, start: date, end: date
    ) -> Outcome[list[tuple[str, date]]]:
        return await client.run(
            "orders by date",
            lambda: OrderRepository(client.database()).placed_between(customer_id, start, end),
        )

    async def recent_orders(self, customer_id: str, limit: int = 4) -> Outcome[list[Order]]:
        return await client.run(
            "recent orders with items",
            lambda: OrderRepository(client.database()).recent(customer_id, limit),
        )

    async def match(
        self, customer_id: str, text: str, purpose: str | None, dont_know: bool
    ) -> Outcome[OrderMatch]:
        def work() -> OrderMatch:
            orders = OrderRepository(client.database()).recent(customer_id, SEARCHED_ORDERS)
            return client.order_finder().find(orders, text, purpose=purpose, dont_know=dont_know)

        return await client.run("order by description", work)


order_store: Provider[Orders] = Provider(StoreOrders)
