"""Recommendations for one customer, against real PostgreSQL, Redis and artefacts on disk."""

from __future__ import annotations

from personalization.privacy import set_personalization
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import MODEL_FILE, ModelRegistry
from personalization.recommender.service import RecommendationService
from personalization.recommender.training import train
from personalization.store import Database
from tests.personalization.recommender.conftest import FAST


def owned_by(db: Database, customer_id: str) -> set[str]:
    with db.cursor() as cur:
        cur.execute(
            """SELECT l.stock_code FROM orders o JOIN order_lines l ON l.order_id = o.id
               WHERE o.customer_id = %s""",
            (customer_id,),
        )
        return {r["stock_code"] for r in cur.fetchall()}


def test_a_known_customer_gets_new_items_from_the_model_then_from_the_cache(
    shop: Database, registry: ModelRegistry, cache: RecommendationCache
) -> None:
    version = train(shop, registry, cache, params=FAST, tune=False).version
    service = RecommendationService(shop, registry, cache)
    first = service.recommend("cust-0001", n=5)
    assert (first.source, first.model_version, first.cached) == ("model", version, False)
    codes = [item["stock_code"] for item in first.items]
    assert len(codes) == 5 and not set(codes) & owned_by(shop, "cust-0001")
    assert all(item["description"] and item["category"] for item in first.items)
    assert cache.client.exists(cache.key(version, "cust-0001")) == 1

    again = RecommendationService(shop, registry, cache).recommend("cust-0001", n=3)
    assert again.cached and [i["stock_code"] for i in again.items] == codes[:3]


def test_a_new_model_invalidates_the_cached_lists(
    shop: Database, registry: ModelRegistry, cache: RecommendationCache
) -> None:
    old = train(shop, registry, cache, params=FAST, tune=False).version
    service = RecommendationService(shop, registry, cache)
    service.recommend("cust-0001")
    report = train(shop, registry, cache, params=FAST, tune=False)
    assert report.cache_keys_invalidated == 1
    assert cache.client.exists(cache.key(old, "cust-0001")) == 0
    fresh = service.recommend("cust-0001")
    assert (fresh.cached, fresh.model_version) == (False, report.version)


def test_customers_without_orders_get_recommendations_from_their_features(
    shop: Database, registry: ModelRegistry, cache: RecommendationCache
) -> None:
    train(shop, registry, cache, params=FAST, tune=False)
    no_orders = "cust-0005"  # generated customers 5, 10, … have not ordered yet
    assert not owned_by(shop, no_orders)
    result = RecommendationService(shop, registry, cache).recommend(no_orders, n=4)
    assert result.source == "features" and len(result.items) == 4


def test_never_an_empty_list(shop: Database, registry: ModelRegistry) -> None:
    service = RecommendationService(shop, registry)  # no model trained, no cache
    segmented = service.recommend("cust-0001", n=5)
    assert segmented.source == "segment popularity" and len(segmented.items) == 5
    assert not {i["stock_code"] for i in segmented.items} & owned_by(shop, "cust-0001")
    stranger = service.recommend("visitor-123", n=5)
    assert stranger.source == "popularity" and len(stranger.items) == 5


def test_an_empty_order_history_still_offers_the_catalogue(
    db: Database, registry: ModelRegistry
) -> None:
    with db.cursor() as cur:
        cur.execute("INSERT INTO products VALUES ('P1', 'LAMP', 'Lighting & candles', 5)")
    result = RecommendationService(db, registry).recommend("visitor-1", n=3)
    assert [i["stock_code"] for i in result.items] == ["P1"]


def test_withdrawn_consent_means_generic_answers_and_no_cached_profile(
    shop: Database, registry: ModelRegistry, cache: RecommendationCache
) -> None:
    train(shop, registry, cache, params=FAST, tune=False)
    service = RecommendationService(shop, registry, cache)
    personal = service.recommend("cust-0001")
    set_personalization(shop, "cust-0001", False, source="test")
    generic = service.recommend("cust-0001")
    assert not generic.cached and generic.source == "popularity (no personalization)"
    assert [i["stock_code"] for i in generic.items] != [i["stock_code"] for i in personal.items]


def test_a_broken_artefact_degrades_to_popularity(shop: Database, registry: ModelRegistry) -> None:
    version = train(shop, registry, params=FAST, tune=False).version
    (registry.root / "versions" / version / MODEL_FILE).write_bytes(b"not a pickle")
    result = RecommendationService(shop, registry).recommend("cust-0001", n=5)
    assert result.source == "segment popularity" and result.model_version is None
    assert len(result.items) == 5


def test_erasure_reaches_the_cache_and_every_model_version(
    shop: Database, registry: ModelRegistry, cache: RecommendationCache
) -> None:
    from personalization.privacy import erase_customer

    train(shop, registry, cache, params=FAST, tune=False)
    version = train(shop, registry, cache, params=FAST, tune=False).version
    RecommendationService(shop, registry, cache).recommend("cust-0001")
    RecommendationService(shop, registry, cache).recommend("cust-0002")
    report = erase_customer(
        shop, "cust-0001", recommendations=cache, registry=registry, source="test"
    )
    assert report.cached_recommendations_deleted == 1
    assert report.recommender_versions_pruned == 2
    assert cache.client.exists(cache.key(version, "cust-0001")) == 0
    assert cache.client.exists(cache.key(version, "cust-0002")) == 1
    assert not any(registry.load(v).knows("cust-0001") for v in registry.versions())
    after = RecommendationService(shop, registry, cache).recommend("cust-0001")
    assert after.source == "popularity" and after.items, "an erased id is a stranger now"


def descriptions(db: Database, codes: set[str]) -> set[str]:
    with db.cursor() as cur:
        cur.execute("SELECT description FROM products WHERE stock_code = ANY(%s)", (list(codes),))
        return {r["description"].strip().capitalize() for r in cur.fetchall()}


def test_each_item_says_why_it_is_shown(
    shop: Database, registry: ModelRegistry, cache: RecommendationCache
) -> None:
    train(shop, registry, cache, params=FAST, tune=False)
    service = RecommendationService(shop, registry, cache)
    personal = service.recommend("cust-0001", n=5)
    bought = descriptions(shop, owned_by(shop, "cust-0001"))
    reasons = [item["reason"] for item in personal.items]
    because = [r.removeprefix("Because you bought ") for r in reasons if r.startswith("Because")]
    assert because, reasons
    assert set(because) <= bought, "the reason names one of her own purchases"
    assert service.recommend("cust-0001", n=5).items[0]["reason"] == reasons[0], "cached too"

    stranger = service.recommend("visitor-9", n=3)
    assert {i["reason"] for i in stranger.items} == {"One of our best sellers right now"}


def test_a_stated_interest_is_the_reason_given(shop: Database, registry: ModelRegistry) -> None:
    from personalization.support.preferences import ShoppingRepository

    ShoppingRepository(shop).save_taste("cust-0005", ["Kitchen"], 25.0)
    result = RecommendationService(shop, registry).recommend("cust-0005", n=4)
    kitchen = [i for i in result.items if i.get("category") == "Kitchen"]
    assert kitchen
    for item in kitchen:
        expected = "Matches your interest in Kitchen"
        if item["unit_price"] <= 25:
            expected += " and your £25 budget"
        assert item["reason"] == expected
