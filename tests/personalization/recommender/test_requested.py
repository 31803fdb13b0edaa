"""Picks for what a customer asked for, against the demo shop in a real PostgreSQL.

Every test checks the picks against the products table itself: no pick over the budget,
outside the category or of a refused kind, whatever the personal ranking would have liked.
"""

from __future__ import annotations

from typing import Any

from personalization.privacy import set_personalization
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.service import RecommendationService, RequestedRecommendations
from personalization.recommender.training import train
from personalization.store import Database
from personalization.support.shopping_request import Ask, ShoppingRequest, parse
from personalization.support.shopping_words import RECIPIENTS
from tests.personalization.recommender.conftest import FAST

FINN = "cust-0005"  # a generated customer without orders: the popularity answer


def products(db: Database) -> dict[str, dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT stock_code, description, category, unit_price::float AS price FROM products"
        )
        return {r["stock_code"]: dict(r) for r in cur.fetchall()}


def asked(
    service: RecommendationService,
    text: str,
    customer: str = FINN,
    n: int = 4,
    after: RequestedRecommendations | None = None,
) -> RequestedRecommendations:
    """What the action asks the service: fresh words, or a refinement of ``after``."""
    said = parse(text)
    if after is None:
        return service.recommend_for(customer, Ask(said).request(), n)
    shown = service.products([i["stock_code"] for i in after.items])
    request = Ask(said, after.request, refine=True).request(shown)
    return service.recommend_for(customer, request, n)


def prices(found: RequestedRecommendations, catalogue: dict[str, dict[str, Any]]) -> list[float]:
    return [catalogue[i["stock_code"]]["price"] for i in found.items]


def categories(found: RequestedRecommendations, catalogue: dict[str, dict[str, Any]]) -> set[str]:
    return {catalogue[i["stock_code"]]["category"] for i in found.items}


def test_a_gift_for_mum_under_15_pounds_never_breaks_the_budget(
    shop: Database, registry: ModelRegistry
) -> None:
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    plain = service.recommend(FINN, n=8)
    assert any(i["unit_price"] >= 15 for i in plain.items), "the plain list would break it"
    found = asked(service, "gift for my mum under 15 pounds")
    assert len(found.items) == 4 and found.relaxed is None
    assert all(price < 15 for price in prices(found, catalogue))
    assert found.request.describe() == "gift ideas for your mum under £15"
    assert found.request.applied == ["budget", "recipient"]
    # Gift-worthy for a mum first: her preferred categories lead the list.
    assert catalogue[found.items[0]["stock_code"]]["category"] in RECIPIENTS["mum"].prefer
    assert all(i["reason"] for i in found.items)


def test_the_category_is_honoured(shop: Database, registry: ModelRegistry) -> None:
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    for text, category in (
        ("something for the kitchen", "Kitchen"),
        ("kitchen stuff", "Kitchen"),
        ("candles", "Lighting & candles"),
        ("something for the garden", "Garden"),
    ):
        found = asked(service, text)
        assert found.items and categories(found, catalogue) == {category}, text
    kitchen = [c for c, p in catalogue.items() if p["category"] == "Kitchen"]
    found = asked(service, "something for the kitchen", n=10)
    assert sorted(i["stock_code"] for i in found.items) == sorted(kitchen), "fewer, never others"


def test_exclusions_are_honoured(shop: Database, registry: ModelRegistry) -> None:
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    found = asked(service, "anything under £10 but not candles", n=20)
    assert len(found.items) >= 10
    assert "Lighting & candles" not in categories(found, catalogue)
    assert all(price < 10 for price in prices(found, catalogue))
    no_mugs = asked(service, "tableware, no mugs please", n=10)
    names = [catalogue[i["stock_code"]]["description"] for i in no_mugs.items]
    assert names and not any("MUG" in name for name in names)
    assert categories(no_mugs, catalogue) == {"Tableware"}


def test_cheaper_lowers_the_prices(shop: Database, registry: ModelRegistry) -> None:
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    first = asked(service, "gift for my mum")
    before = sorted(prices(first, catalogue))
    cheaper = asked(service, "cheaper please", after=first)
    after = prices(cheaper, catalogue)
    assert cheaper.relaxed is None and len(after) == 4
    assert max(after) < before[1], "below the lower middle of what was shown"
    assert cheaper.request.recipient == "mum", "the rest of the request is kept"
    assert cheaper.request.describe() == f"gift ideas for your mum under £{before[1]:g}"
    again = asked(service, "still too expensive", after=cheaper)
    assert max(prices(again, catalogue)) < sorted(after)[1]


def test_more_like_the_second_one_stays_in_its_category(
    shop: Database, registry: ModelRegistry
) -> None:
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    first = asked(service, "gift ideas for a housewarming")
    second = first.items[1]["stock_code"]
    like = asked(service, "more like the second one", after=first)
    assert like.items and categories(like, catalogue) == {catalogue[second]["category"]}
    assert second not in {i["stock_code"] for i in like.items}
    assert like.request.like is not None and like.request.like.stock_code == second
    assert all(i["reason"].startswith("Like the ") for i in like.items)
    by_digit = asked(service, "like number 2", after=first)
    assert by_digit.request.like == like.request.like


def test_a_refinement_keeps_the_budget_and_a_new_category_replaces_the_old(
    shop: Database, registry: ModelRegistry
) -> None:
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    first = asked(service, "gift for my mum under 15 pounds")
    kitchen = asked(service, "something for the kitchen", after=first)
    assert categories(kitchen, catalogue) == {"Kitchen"}
    assert all(price < 15 for price in prices(kitchen, catalogue))
    assert kitchen.request.describe() == "kitchen gift ideas for your mum under £15"
    garden = asked(service, "what about the garden instead", after=kitchen)
    assert categories(garden, catalogue) == {"Garden"}
    not_candles = asked(service, "not candles", after=asked(service, "candles under £10"))
    assert not_candles.request.category is None, "refusing the category asked leaves it"
    assert "Lighting & candles" not in categories(not_candles, catalogue)
    assert all(price < 10 for price in prices(not_candles, catalogue))


def test_nothing_under_the_budget_raises_it_openly(shop: Database, registry: ModelRegistry) -> None:
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    found = asked(service, "something for the kitchen under £3")  # the cheapest is £3.25
    assert found.relaxed == "budget"
    assert found.request.describe() == "kitchen picks under £3"
    assert found.kept is not None and found.kept.describe() == "kitchen picks under £6"
    assert categories(found, catalogue) == {"Kitchen"}, "the category is kept"
    assert prices(found, catalogue) == [3.25]


def test_far_below_every_price_the_cheapest_are_offered(
    shop: Database, registry: ModelRegistry
) -> None:
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    found = asked(service, "kitchen bits under £1")
    assert found.relaxed == "budget"
    assert found.kept is not None and found.kept.describe() == "kitchen picks"
    kitchen = sorted(p["price"] for p in catalogue.values() if p["category"] == "Kitchen")
    assert prices(found, catalogue) == kitchen[:4], "the cheapest first"
    over = asked(service, "a candle over £50")
    assert over.relaxed == "budget" and over.kept is not None and over.kept.budget is None
    candles = sorted(p["price"] for p in catalogue.values() if p["category"] == over.kept.category)
    assert sorted(prices(over, catalogue)) == candles[-4:], "the nearest: the dearest"


def test_nothing_in_the_category_relaxes_the_category_and_keeps_the_budget(
    shop: Database, registry: ModelRegistry
) -> None:
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    # The one Easter product is a decoration: refused, the category is empty at any price.
    found = asked(service, "easter things under £5, no decorations")
    assert found.relaxed == "category"
    assert found.kept is not None and found.kept.describe() == "picks under £5 without decorations"
    assert found.items and all(price < 5 for price in prices(found, catalogue))
    names = [catalogue[i["stock_code"]]["description"] for i in found.items]
    assert not any("DECORATION" in name for name in names)


def test_the_model_order_is_kept_within_the_request(
    shop: Database, registry: ModelRegistry
) -> None:
    version = train(shop, registry, None, params=FAST, tune=False).version
    catalogue = products(shop)
    service = RecommendationService(shop, registry)
    found = asked(service, "something between £5 and £12", customer="cust-0001", n=6)
    assert found.source == "model" and len(found.items) == 6
    assert all(5 <= price <= 12 for price in prices(found, catalogue))
    ranked = registry.load(version).top_items("cust-0001", [], 500)
    assert ranked is not None
    order = [c for c in ranked[0] if 5 <= catalogue[c]["price"] <= 12]
    shown = [i["stock_code"] for i in found.items]
    assert len(order) >= 3 and shown[: len(order)] == order[:6], "the model's order"


def test_without_consent_the_request_is_still_honoured_from_popularity(
    shop: Database, registry: ModelRegistry
) -> None:
    set_personalization(shop, "cust-0001", False, "chat")
    catalogue = products(shop)
    found = asked(RecommendationService(shop, registry), "around 25", customer="cust-0001")
    assert not found.personal and found.items
    assert all(20 <= price <= 30 for price in prices(found, catalogue))
    assert found.request.describe() == "picks around £25"


def test_the_request_survives_the_slot() -> None:
    request = Ask(parse("a birthday gift for my dad, £10-£20, no candles")).request()
    assert ShoppingRequest.from_slot(request.as_slot()) == request
    assert ShoppingRequest.from_slot({"category": "Nonsense", "budget": {"kind": "x"}}) == (
        ShoppingRequest()
    )
    assert ShoppingRequest.from_slot("garbage") is None
