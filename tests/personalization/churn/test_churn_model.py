"""Churn risk on a shop whose customers the test shapes: regulars keep buying, one-off
buyers do not. Real PostgreSQL; the real data's figures are in docs/cli.md."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from personalization.churn.features import FEATURES, bought_within, load_history, snapshot
from personalization.churn.model import NotEnoughHistory, fit_at
from personalization.churn.refresh import refresh
from personalization.churn.repository import ChurnScores
from personalization.churn.validation import validate
from personalization.profile import ProfileReader
from personalization.store import Database
from tests.personalization.test_cli import run_cli

NOW = datetime(2011, 12, 10, tzinfo=timezone.utc)


def add_orders(db: Database, customer_id: str, days_ago: list[int], total: float) -> None:
    with db.cursor() as cur:
        cur.execute("INSERT INTO customers (id) VALUES (%s) ON CONFLICT DO NOTHING", (customer_id,))
        for days in days_ago:
            cur.execute(
                "INSERT INTO orders (id, customer_id, ordered_at, total) VALUES (%s, %s, %s, %s)",
                (f"{customer_id}-{days}", customer_id, NOW - timedelta(days=days), total),
            )


@pytest.fixture
def shop(db: Database) -> Database:
    for i in range(30):  # order every three weeks, for more than a year, big baskets
        add_orders(db, f"regular-{i:02d}", list(range(1 + i % 5, 420, 21)), 300.0 + i)
    for i in range(30):  # one small order, then nothing
        add_orders(db, f"once-{i:02d}", [120 + 7 * i], 20.0 + i)
    for i in range(10):  # used to buy a lot, stopped half a year ago
        add_orders(db, f"faded-{i:02d}", list(range(200 + i, 420, 14)), 500.0)
    return db


def test_features_see_only_what_was_known_at_the_cutoff(db: Database) -> None:
    add_orders(db, "cust-a", [200, 100, 10], 50.0)
    history = load_history(db)
    cutoff = NOW - timedelta(days=50)
    known = snapshot(history, cutoff)
    row = dict(zip(FEATURES, known.row("cust-a"), strict=True))
    assert row["orders"] == 2 and row["recency_days"] == pytest.approx(50)
    assert row["tenure_days"] == pytest.approx(150) and row["spend"] == 100.0
    assert row["mean_days_between_orders"] == pytest.approx(100)
    assert bought_within(history, ["cust-a"], cutoff).tolist() == [1], "the order 10 days ago"
    assert bought_within(history, ["cust-a"], NOW).tolist() == [0]


def test_refresh_stores_every_customer_and_regulars_are_the_safest(shop: Database) -> None:
    summary = refresh(shop, NOW)
    assert summary["customers_scored"] == 70
    assert summary["fitted_on"]["cutoff"] == (NOW - timedelta(days=90)).date().isoformat()
    scores = ChurnScores(shop)
    regular, once = scores.for_customer("regular-03"), scores.for_customer("once-03")
    assert regular is not None and once is not None
    assert regular["risk"] < 0.3 < 0.7 < once["risk"]
    assert len(once["factors"]) == 3 and once["factors"][0]["description"]
    with shop.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM churn_scores WHERE risk >= 0.6")
        assert cur.fetchone()["n"] == summary["high_risk"]
        cur.execute("DELETE FROM customers WHERE id = 'once-03'")  # what erasure does
    assert scores.for_customer("once-03") is None


def test_a_valuable_customer_at_high_risk_is_one_to_keep_close(shop: Database) -> None:
    refresh(shop, NOW)
    with shop.cursor() as cur:  # the segment run's spend score
        cur.execute(
            """INSERT INTO segment_assignments (customer_id, segment, cluster, r_score, f_score,
               m_score, recency_days, frequency, monetary, model_version)
               VALUES ('faded-01', 'At risk', 0, 1, 5, 5, 201, 16, 8000, 'test'),
                      ('once-01', 'Lost', 1, 1, 1, 1, 127, 1, 21, 'test')"""
        )
    reader = ProfileReader(shop)
    faded, once = reader.context("faded-01"), reader.context("once-01")
    assert faded is not None and once is not None
    assert faded.churn_risk is not None and faded.churn_risk >= 0.6
    assert faded.as_slots()["customer_at_risk"] is True
    assert once.churn_risk is not None and once.churn_risk >= 0.6
    assert once.as_slots()["customer_at_risk"] is False, "at risk, but not a big spender"
    with shop.cursor() as cur:
        cur.execute(
            "INSERT INTO consents (customer_id, personalization) VALUES ('faded-01', false)"
        )
    withheld = reader.context("faded-01")
    assert withheld is not None and withheld.as_slots()["customer_at_risk"] is False


def test_too_little_history_leaves_the_scores_alone(db: Database) -> None:
    add_orders(db, "cust-new", [3], 40.0)
    assert "too few" in refresh(db, NOW)["skipped"]
    with pytest.raises(NotEnoughHistory):
        fit_at(load_history(db), NOW - timedelta(days=90))


def test_the_temporal_validation_compares_with_the_rfm_rule(shop: Database) -> None:
    report = validate(
        load_history(shop),
        fit_cutoff=NOW - timedelta(days=150),
        test_cutoff=NOW - timedelta(days=90),
    )
    models = [row["model"] for row in report["rows"]]
    assert models[0].startswith("RFM rule") and models[-1] == "logistic regression (ours)"
    ours = report["rows"][-1]
    assert ours["auc"] > 0.8, "regulars and one-off buyers are easy to tell apart"
    assert report["test"]["customers"] == 70


def test_the_cli_explains_one_customers_score(shop: Database, database_url: str) -> None:
    refresh(shop, NOW)
    result = run_cli("churn", "explain", "once-02", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "once-02: churn risk" in result.stdout
    assert "(raises the risk)" in result.stdout or "(lowers the risk)" in result.stdout
    missing = run_cli("churn", "explain", "nobody", database_url=database_url)
    assert missing.returncode != 0 and "no churn score for nobody" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_an_opt_out_ends_the_profiling(shop: Database) -> None:
    from personalization.privacy import set_personalization

    refresh(shop, NOW)
    scores = ChurnScores(shop)
    assert scores.for_customer("once-04") is not None
    set_personalization(shop, "once-04", False, "test")
    assert scores.for_customer("once-04") is None, "deleted with the opt-out"
    refresh(shop, NOW)
    assert scores.for_customer("once-04") is None, "and not scored again"
    assert scores.for_customer("once-05") is not None
