"""Product recommendations, the products behind them, and what was shown and clicked."""

from __future__ import annotations

from typing import Any, Protocol

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.recommender.service import Recommendations, RequestedRecommendations
from personalization.support.preferences import ShoppingRepository
from personalization.support.shopping_request import Ask


class RecommendationGateway(Protocol):
    async def recommend(self, target: str, n: int) -> Outcome[Recommendations]: ...

    async def recommend_for(
        self, target: str, ask: Ask, shown: list[str], n: int
    ) -> Outcome[RequestedRecommendations]:
        """Picks that keep what the customer asked for; ``shown`` is the list on screen (in
        order), which a refinement ("cheaper", "the second one") is read against."""
        ...

    async def save_taste(
        self, customer_id: str, interest: str, budget: float | None
    ) -> Outcome[None]:
        """Store what the customer likes, and drop their cached lists built without it."""
        ...

    async def record(
        self,
        customer_id: str,
        kind: str,
        codes: list[str],
        conversation_id: str,
        reasons: dict[str, str] | None = None,
    ) -> Outcome[None]:
        """Recommendations shown (with the kind of reason for each) or clicked, for the
        recommender to learn from and the insights page to count."""
        ...

    async def product(self, stock_code: str) -> Outcome[dict[str, Any]]:
        """The product; refused for a code the catalogue does not have."""
        ...


class StoreRecommendations:
    async def recommend(self, target: str, n: int) -> Outcome[Recommendations]:
        return await client.run(
            "recommendations", lambda: client.recommendations().recommend(target, n)
        )

    async def recommend_for(
        self, target: str, ask: Ask, shown: list[str], n: int
    ) -> Outcome[RequestedRecommendations]:
        def work() -> RequestedRecommendations:
            service = client.recommendations()
            on_screen = service.products(shown) if ask.refine and shown else []
            return service.recommend_for(target, ask.request(on_screen), n)

        return await client.run("requested recommendations", work)

    async def save_taste(
        self, customer_id: str, interest: str, budget: float | None
    ) -> Outcome[None]:
        return await client.run(
            "save preferences",
            lambda: ShoppingRepository(client.database()).save_taste(
                customer_id, [interest], budget, client.recommendation_cache()
            ),
        )

    async def record(
        self,
        customer_id: str,
        kind: str,
        codes: list[str],
        conversation_id: str,
        reasons: dict[str, str] | None = None,
    ) -> Outcome[None]:
        return await client.run(
            f"record {kind}",
            lambda: ShoppingRepository(client.database()).record_recommendations(
                customer_id, kind, codes, conversation_id, reasons
            ),
        )

    async def product(self, stock_code: str) -> Outcome[dict[str, Any]]:
        outcome = await client.run(
            "product", lambda: ShoppingRepository(client.database()).product(stock_code)
        )
        return outcome.found("unknown product")


recommendation_store: Provider[RecommendationGateway] = Provider(StoreRecommendations)
