"""Tickets, returns and the style bandit against the real PostgreSQL."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import pytest
import redis

from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.privacy import set_personalization
from personalization.recommender.cache import RecommendationCache
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from personalization.support.bandit import STYLES, StyleBandit
from personalization.support.feedback import FeedbackRepository
from personalization.support.orders import OrderRepository
from personalization.support.preferences import ShoppingRepository
from personalization.support.returns import ReturnService, policy_for
from personalization.support.tickets import TicketRepository
from tests.conftest import Servers


@pytest.fixture
def shop(db: Database) -> Database:
    load_demo_customers(CustomerRepository(db))
    load_demo_shop(db, demo_customers())
    return db


def test_one_open_ticket_per_conversation(shop: Database) -> None:
    tickets = TicketRepository(shop)
    first = tickets.open("cust-0001", "conv-1", "customer_request", "high", "a", {"tier": "vip"})
    again = tickets.open("cust-0001", "conv-1", "worsening_mood", "urgent", "b", {"mood": -0.6})
    other = tickets.open(None, "conv-2", "repeated_fallback", "normal", "c", {})
    assert first.created and not again.created and other.created
    assert again.id == first.id != other.id
    with shop.cursor() as cur:
        cur.execute("SELECT summary, context FROM support_tickets WHERE id = %s", (first.id,))
        row = cur.fetchone()
    assert row["summary"] == "b" and row["context"] == {"tier": "vip", "mood": -0.6}
    with pytest.raises(ValueError):
        tickets.open(None, "conv-3", "boredom", "normal", "", {})


def test_returns_follow_the_policy_and_are_recorded_once(shop: Database) -> None:
    orders = OrderRepository(shop)
    order_id = orders.latest_ids("cust-0001", limit=2)[1]  # delivered, a few days ago
    order = orders.for_customer(order_id, "cust-0001")
    assert order is not None and order.status == "delivered"
    assert orders.for_customer(order_id, "cust-0002") is None, "never another customer's order"
    service = ReturnService(shop)
    line = order.lines[0]
    decision = service.decide(order, line.description.lower(), "Champions", date.today())
    assert decision.accepted and decision.line == line and decision.policy.free_collection
    assert service.record(order, decision, "conv-r").accepted
    assert service.record(order, decision, "conv-r").reason == "already_requested"
    late = date.today() + timedelta(days=61)
    assert service.decide(order, None, "Champions", late).reason == "too_late"
    assert service.decide(order, "no such thing", "Champions", date.today()).reason in (
        "no_such_item",
        "accepted",  # a one-line order needs no item name
    )
    assert policy_for("Loyal").window_days == 45 and policy_for(None).window_days == 30


def test_the_bandit_learns_a_segments_best_style(shop: Database) -> None:
    bandit = StyleBandit(shop, random.Random(3))
    for _ in range(30):
        bandit.reward("Loyal", "concise_formal", True)
        bandit.reward("Loyal", "detailed_casual", False)
    counts = bandit.counts("Loyal")
    assert (counts["concise_formal"].successes, counts["detailed_casual"].failures) == (30, 30)
    picks = [bandit.choose("Loyal") for _ in range(200)]
    assert picks.count("concise_formal") > 150
    assert {bandit.choose("Loyal", tone="casual") for _ in range(50)} <= {
        s for s in STYLES if s.endswith("casual")
    }
    assert bandit.counts("New")["concise_formal"].successes == 0, "segments learn apart"
    with pytest.raises(ValueError):
        bandit.reward("Loyal", "shouting", True)


def test_orders_are_found_by_the_days_they_were_placed_on(shop: Database) -> None:
    with shop.cursor() as cur:
        cur.execute(
            """SELECT id, ordered_at::date AS day FROM orders
               WHERE customer_id = 'cust-0001' ORDER BY ordered_at DESC LIMIT 1"""
        )
        newest = cur.fetchone()
    orders = OrderRepository(shop)
    day = newest["day"]
    found = orders.placed_between("cust-0001", day, day)
    assert (newest["id"], day) in found
    assert all(d == day for _, d in found)
    others = orders.placed_between("cust-0002", date(2000, 1, 1), day, limit=100)
    assert others and newest["id"] not in {i for i, _ in others}, "never another's order"
    later = orders.placed_between("cust-0001", day + timedelta(days=1), day + timedelta(days=9))
    assert later == []
    everything = orders.placed_between("cust-0001", date(2000, 1, 1), day, limit=100)
    assert len(everything) == len(orders.latest_ids("cust-0001", limit=100))
    assert [d for _, d in everything] == sorted((d for _, d in everything), reverse=True)


def test_feedback_is_stored_and_teaches_the_bandit_only_when_asked(shop: Database) -> None:
    feedback = FeedbackRepository(shop)
    feedback.record_and_learn("cust-0001", "conv-f", "thumbs", 1, "concise_casual", "Loyal")
    feedback.record_and_learn("cust-0001", "conv-f", "csat", 3, "concise_casual", "Loyal")
    feedback.record_and_learn(None, "conv-g", "csat", 5, "concise_casual", "Loyal", learn=False)
    counts = StyleBandit(shop).counts("Loyal")["concise_casual"]
    assert (counts.successes, counts.failures) == (1, 0), (
        "a CSAT of 3 and learn=False teach nothing"
    )
    with shop.cursor() as cur:
        cur.execute("SELECT kind, value FROM feedback ORDER BY id")
        assert [tuple(r.values()) for r in cur.fetchall()] == [
            ("thumbs", 1),
            ("csat", 3),
            ("csat", 5),
        ]


def test_a_new_taste_and_an_opt_out_drop_the_cached_lists(shop: Database, servers: Servers) -> None:
    client = redis.Redis.from_url(servers.redis_url)
    cache = RecommendationCache(client, prefix=f"t{uuid.uuid4().hex[:8]}", ttl_s=60)
    try:
        cache.put("v1", "cust-0001", {"items": []})
        ShoppingRepository(shop).save_taste("cust-0001", ["Garden"], 20.0, cache)
        assert cache.get("v1", "cust-0001") is None
        cache.put("v1", "cust-0001", {"items": []})
        set_personalization(shop, "cust-0001", True, "test", cache)
        assert cache.get("v1", "cust-0001") is not None, "an opt-in keeps them"
        set_personalization(shop, "cust-0001", False, "test", cache)
        assert cache.get("v1", "cust-0001") is None
    finally:
        client.close()
