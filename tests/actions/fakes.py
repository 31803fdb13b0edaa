"""In-process gateways for action tests that need no database: each implements the same
Protocol as the store-backed gateway and answers with the outcomes a test gives it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from actions.gateways.articles import Suggestion
from actions.outcome import Outcome
from personalization.auth.proof import IdentityProof
from personalization.auth.sign_in import SignInResult
from personalization.experiments.treatment import Treatment
from personalization.help_center import HelpArticle
from personalization.profile import CustomerContext
from personalization.recommender.matching import pick
from personalization.recommender.service import Recommendations, RequestedRecommendations
from personalization.support.order_finder import OrderFinder, OrderMatch
from personalization.support.orders import Order
from personalization.support.returns import ReturnDecision
from personalization.support.shopping_request import Ask
from personalization.support.tickets import Ticket

DOWN: Outcome[Any] = Outcome.unavailable("StoreUnavailable")


@dataclass
class FakeOrders:
    found: Outcome[Order] = DOWN
    recent: Outcome[list[str]] = DOWN
    asked: list[tuple[str, str]] = field(default_factory=list)
    # The customer's orders, newest first: when given, orders are looked up and matched in
    # them (with the real OrderFinder, words only); None: the store is down.
    history: list[Order] | None = None
    texts: list[str] = field(default_factory=list)  # what was matched against the orders

    async def order(self, order_id: str, customer_id: str) -> Outcome[Order]:
        self.asked.append((order_id, customer_id))
        if self.history is not None:
            mine = [o for o in self.history if o.id == order_id and o.customer_id == customer_id]
            return Outcome.success(mine[0]) if mine else Outcome.refused("not this customer's")
        return self.found

    async def recent_orders(self, customer_id: str, limit: int = 4) -> Outcome[list[Order]]:
        if self.history is None:
            return DOWN
        return Outcome.success([o for o in self.history if o.customer_id == customer_id][:limit])

    async def match(
        self, customer_id: str, text: str, purpose: str | None, dont_know: bool
    ) -> Outcome[OrderMatch]:
        self.texts.append(text)
        if self.history is None:
            return DOWN
        mine = [o for o in self.history if o.customer_id == customer_id]
        return Outcome.success(OrderFinder().find(mine, text, purpose=purpose, dont_know=dont_know))

    async def latest_ids(self, customer_id: str) -> Outcome[list[str]]:
        return self.recent

    async def placed_between(
        self, customer_id: str, start: date, end: date
    ) -> Outcome[list[tuple[str, date]]]:
        return DOWN


@dataclass
class FakeIdentity:
    attempt: Outcome[SignInResult] = DOWN
    proofs: list[tuple[str, IdentityProof]] = field(default_factory=list)

    async def sign_in(
        self,
        identifier: str,
        order_number: str | None,
        client_key: str,
        conversation_id: str,
        channel: str,
    ) -> Outcome[SignInResult]:
        return self.attempt

    async def record_proof(self, conversation_id: str, proof: IdentityProof) -> Outcome[None]:
        self.proofs.append((conversation_id, proof))
        return Outcome.success(None)


@dataclass
class FakeProfiles:
    found: Outcome[CustomerContext] = DOWN

    async def context(self, customer_id: str) -> Outcome[CustomerContext]:
        return self.found


@dataclass
class FakeArticles:
    suggestion: Outcome[Suggestion] = DOWN
    articles: dict[str, HelpArticle] = field(default_factory=dict)  # found by id; else refused
    reachable: bool = True  # False: by id, the store is down
    questions: list[str] = field(default_factory=list)
    ids_asked: list[str] = field(default_factory=list)

    async def suggest(self, question: str, customer_id: str | None) -> Outcome[Suggestion]:
        self.questions.append(question)
        return self.suggestion

    async def article(self, article_id: str) -> Outcome[HelpArticle]:
        self.ids_asked.append(article_id)
        if not self.reachable:
            return DOWN
        found = self.articles.get(article_id)
        return Outcome.success(found) if found else Outcome.refused("no such article")

    async def record_feedback(
        self, customer_id: str, article_id: str, helpful: bool, conversation_id: str
    ) -> Outcome[None]:
        return DOWN


@dataclass
class FakeSupport:
    ticket: Outcome[Ticket] = DOWN
    decision: Outcome[ReturnDecision] = DOWN
    returns: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    async def open_ticket(
        self,
        customer_id: str | None,
        conversation_id: str,
        reason: str,
        priority: str,
        summary: str,
        context: dict[str, Any],
    ) -> Outcome[Ticket]:
        return self.ticket

    async def request_return(
        self,
        order: Order,
        item: str | None,
        segment: str | None,
        conversation_id: str,
        reason: str | None = None,
    ) -> Outcome[ReturnDecision]:
        self.returns.append((order.id, item, reason))
        return self.decision

    async def record_sentiment(
        self, customer_id: str, conversation_id: str, score: float, label: str
    ) -> Outcome[None]:
        return DOWN


@dataclass
class FakeFeedback:
    recorded: list[tuple[str, int]] = field(default_factory=list)

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
        self.recorded.append((kind, value))
        return DOWN


@dataclass
class FakeRecommendations:
    """A shop of a few products in memory. Requests are answered by the recommender's own
    picking (filters, order, relaxation) over this list, in catalogue order as the personal
    ranking; ``down`` makes every call unavailable."""

    catalogue: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    asks: list[tuple[Ask, list[str]]] = field(default_factory=list)
    recorded: list[tuple[str, str, list[str]]] = field(default_factory=list)

    async def recommend(self, target: str, n: int) -> Outcome[Recommendations]:
        if self.down:
            return DOWN
        items = [{**item, "reason": "One of our best sellers"} for item in self.catalogue[:n]]
        return Outcome.success(Recommendations(target, items, "popularity", None))

    async def recommend_for(
        self, target: str, ask: Ask, shown: list[str], n: int
    ) -> Outcome[RequestedRecommendations]:
        self.asks.append((ask, shown))
        if self.down:
            return DOWN
        by_code = {item["stock_code"]: item for item in self.catalogue}
        request = ask.request([by_code[c] for c in shown if c in by_code] if ask.refine else [])
        order = [item["stock_code"] for item in self.catalogue]
        picks = pick(
            lambda wanted: [dict(i) for i in self.catalogue if wanted.allows(i)],
            request,
            order,
            {},
            n,
        )
        for item in picks.items:
            item["reason"] = "One of our best sellers"
        return Outcome.success(
            RequestedRecommendations(
                target, request, picks.items, "popularity", None, picks.relaxed, picks.kept
            )
        )

    async def save_taste(
        self, customer_id: str, interest: str, budget: float | None
    ) -> Outcome[None]:
        return DOWN if self.down else Outcome.success(None)

    async def record(
        self,
        customer_id: str,
        kind: str,
        codes: list[str],
        conversation_id: str,
        reasons: dict[str, str] | None = None,
    ) -> Outcome[None]:
        self.recorded.append((customer_id, kind, codes))
        return DOWN if self.down else Outcome.success(None)

    async def product(self, stock_code: str) -> Outcome[dict[str, Any]]:
        if self.down:
            return DOWN
        found = next((i for i in self.catalogue if i["stock_code"] == stock_code), None)
        return Outcome.success(found).found("unknown product")


@dataclass
class FakeExperiments:
    """No experiment running unless a test gives a treatment; resolutions are counted."""

    given: Outcome[tuple[Treatment, str | None]] = field(
        default_factory=lambda: Outcome.success((Treatment(), None))
    )
    resolved: list[str] = field(default_factory=list)

    async def start_session(
        self,
        customer_id: str | None,
        conversation_id: str,
        segment: str | None,
        tone: str | None,
        styled: bool,
    ) -> Outcome[tuple[Treatment, str | None]]:
        return self.given

    async def mark_resolved(self, conversation_id: str) -> Outcome[int]:
        self.resolved.append(conversation_id)
        return Outcome.success(1)
