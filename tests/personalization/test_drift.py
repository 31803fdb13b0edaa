"""Drift against real PostgreSQL: events, moods and clicks of two periods compared."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from personalization.drift import measures
from personalization.drift.report import drift_report, save_reference
from personalization.store import Database
from tests.personalization.test_cli import run_cli

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = random.Random(1)
    a = [rng.gauss(0, 1) for _ in range(3000)]
    b = [rng.gauss(0, 1) for _ in range(3000)]
    c = [rng.gauss(1, 1) for _ in range(3000)]
    assert measures.psi(a, b) < 0.02
    assert measures.psi(a, c) > 0.5
    assert not measures.continuous("x", a, b).moved
    moved = measures.continuous("x", a, c)
    assert moved.moved and moved.p_value < 1e-6 and moved.statistic > 0.3


def test_a_rate_moves_only_when_the_change_matters() -> None:
    assert not measures.rate("r", (100, 1000), (104, 1000)).moved
    assert measures.rate("r", (50, 1000), (150, 1000)).moved
    few = measures.rate("r", (1, 10), (9, 10))
    assert not few.moved and few.note.startswith("not enough data")
    labels = measures.categorical(
        "l",
        {"negative": 100, "neutral": 800, "positive": 100},
        {"negative": 400, "neutral": 500, "positive": 100},
    )
    assert labels.moved and "negative 0.10->0.40" in labels.note


def add_period(
    db: Database,
    start: datetime,
    days: int,
    confidence: float,
    fallback_every: int,
    negative_share: float,
    clicks_per_10: int,
    seed: int,
) -> None:
    rng = random.Random(seed)
    with db.cursor() as cur:
        cur.execute("INSERT INTO customers (id) VALUES (%s) ON CONFLICT DO NOTHING", ("cust-d",))
        cur.execute(
            "INSERT INTO products (stock_code, description, unit_price) "
            "VALUES ('P1', 'P', 1) ON CONFLICT DO NOTHING"
        )
        for n in range(300):
            when = start + timedelta(seconds=rng.uniform(0, days * 86400))
            intent = "nlu_fallback" if n % fallback_every == 0 else "order_status"
            body = {
                "event": "user",
                "timestamp": when.timestamp(),
                "text": "where is it",
                "parse_data": {
                    "intent": {
                        "name": intent,
                        "confidence": min(1.0, max(0.0, rng.gauss(confidence, 0.08))),
                    }
                },
            }
            cur.execute(
                "INSERT INTO events (sender_id, data) VALUES ('c', %s)", (json.dumps(body),)
            )
            negative = rng.random() < negative_share
            cur.execute(
                "INSERT INTO message_sentiment (conversation_id, score, label, created_at) "
                "VALUES ('c', %s, %s, %s)",
                (-0.6 if negative else 0.3, "negative" if negative else "positive", when),
            )
            kind = "recommendation_clicked" if n % 10 < clicks_per_10 else "recommendation_shown"
            cur.execute(
                "INSERT INTO interactions (customer_id, kind, item_id, occurred_at) "
                "VALUES ('cust-d', %s, 'P1', %s)",
                (kind, when),
            )
        # A button press is always certain: it must not count as a confident message.
        cur.execute(
            "INSERT INTO events (sender_id, data) VALUES ('c', %s)",
            (
                json.dumps(
                    {
                        "event": "user",
                        "timestamp": (start + timedelta(hours=1)).timestamp(),
                        "text": "/affirm",
                        "parse_data": {"intent": {"name": "affirm", "confidence": 1}},
                    }
                ),
            ),
        )


def test_the_report_names_what_moved_against_the_period_before(db: Database) -> None:
    add_period(db, NOW - timedelta(days=14), 7, 0.9, 20, 0.1, 2, seed=1)
    add_period(db, NOW - timedelta(days=7), 7, 0.7, 4, 0.5, 2, seed=2)
    report = drift_report(db, 7, now=NOW)
    assert report.reference.saved_at is None and "the 7 days before" in report.reference.reason
    by_name = {s.signal: s for s in report.signals}
    assert by_name["intent_confidence"].current_n == 300, "the button press is left out"
    assert set(report.moved) == {
        "intent_confidence",
        "fallback_rate",
        "sentiment_score",
        "sentiment_label",
    }
    assert not by_name["recommendation_ctr"].moved
    assert by_name["fallback_rate"].reference_value == pytest.approx(15 / 300)


def test_a_saved_reference_is_what_later_weeks_are_compared_with(
    db: Database, database_url: str
) -> None:
    add_period(db, NOW - timedelta(days=30), 7, 0.7, 4, 0.5, 2, seed=3)
    save_reference(db, 7, "model 1 settled in", now=NOW - timedelta(days=23))
    add_period(db, NOW - timedelta(days=14), 7, 0.9, 20, 0.1, 2, seed=4)  # the old period
    add_period(db, NOW - timedelta(days=7), 7, 0.7, 4, 0.5, 2, seed=5)  # like the reference
    report = drift_report(db, 7, now=NOW)
    assert report.reference.reason == "model 1 settled in"
    assert report.moved == []
    cli = run_cli("drift", "--days", "3650", database_url=database_url)
    assert cli.returncode == 0, cli.stderr
    assert "intent_confidence" in cli.stdout and "model 1 settled in" in cli.stdout


def test_a_constant_reference_still_sees_a_move() -> None:
    assert measures.psi([1.0] * 100, [0.2] * 100) > 1
    assert measures.psi([1.0] * 100, [1.0] * 100) < 0.01
