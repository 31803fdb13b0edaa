"""The offline recommender evaluation, on purchases with a structure the test controls."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import scipy.sparse as sp

from personalization.recommender.data import SplitData, load_split
from personalization.recommender.evaluation import (
    HybridLightFm,
    ImplicitAls,
    ItemKnn,
    Popularity,
    TrendPopularity,
    _metrics,
    evaluate_models,
)
from personalization.recommender.model import Params
from personalization.store import Database

SPLIT = datetime(2011, 11, 1, tzinfo=timezone.utc)
CANDLES = [f"CANDLE{i}" for i in range(8)]
MUGS = [f"MUG{i}" for i in range(8)]


def buy(cur, order_id: str, customer: str, codes: list[str], when: datetime) -> None:
    cur.execute(
        "INSERT INTO orders (id, customer_id, ordered_at) VALUES (%s, %s, %s)",
        (order_id, customer, when),
    )
    for line, code in enumerate(codes, start=1):
        cur.execute("INSERT INTO order_lines VALUES (%s, %s, %s, 1, 2.5)", (order_id, line, code))


@pytest.fixture
def two_tastes(db: Database) -> Database:
    """Candle buyers and mug buyers; after the split each buys a new item of their taste."""
    rng = np.random.default_rng(3)
    with db.cursor() as cur:
        for code in CANDLES + MUGS + ["POPULAR"]:
            words = "SCENTED CANDLE" if code.startswith("CANDLE") else "CERAMIC MUG"
            cur.execute("INSERT INTO products VALUES (%s, %s, NULL, 2.5)", (code, words))
        for n in range(60):
            taste = CANDLES if n % 2 else MUGS
            customer = f"cust-{n:03d}"
            cur.execute(
                "INSERT INTO customers (id, country) VALUES (%s, %s)",
                (customer, "France" if n % 2 else "Germany"),
            )
            owned = list(rng.choice(taste[:6], size=3, replace=False))
            buy(cur, f"{customer}-a", customer, [*owned, "POPULAR"], SPLIT - timedelta(days=40))
            new = [c for c in taste if c not in owned][:2]
            buy(cur, f"{customer}-b", customer, new, SPLIT + timedelta(days=5))
        cur.execute("INSERT INTO customers (id, country) VALUES ('cust-new', 'France')")
        buy(cur, "cust-new-a", "cust-new", ["CANDLE1"], SPLIT + timedelta(days=3))
    return db


def test_the_split_keeps_only_new_items_as_truth(two_tastes: Database) -> None:
    data = load_split(two_tastes, SPLIT)
    assert len(data.users) == 61
    assert len(data.items) == 13, "candidates are the items sold before the split"
    for user, truth in data.truth.items():
        assert not truth & set(data.history.matrix()[user].indices), "owned items are not truth"
    assert len(data.warm_users()) == 60
    assert [data.users[u] for u in data.cold_users()] == ["cust-new"]
    new = data.users.index("cust-new")
    assert data.history.user_features[new] == ["country:France", "lines:new"]
    candle = data.history.item_features[data.items.index("CANDLE0")]
    assert {"word:candle", "word:scented", "category:Lighting & candles"} <= set(candle)


def test_metrics_of_a_perfect_and_a_reversed_ranking() -> None:
    owned = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=np.float32))
    truth = [{1, 2}]
    perfect = np.array([[0, 9, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1]], dtype=np.float32)
    result = _metrics(perfect, owned, truth)
    assert result["precision@10"] == pytest.approx(0.2)
    assert result["recall@10"] == pytest.approx(1.0)
    assert result["ndcg@10"] == pytest.approx(1.0)
    assert result["auc"] == pytest.approx(1.0)
    reversed_ = np.array([[0, -9, -8, 1, 1, 1, 1, 1, 1, 1, 1, 1]], dtype=np.float32)
    assert _metrics(reversed_, owned, truth)["auc"] == pytest.approx(0.0)


def test_every_model_learns_the_two_tastes_better_than_popularity(two_tastes: Database) -> None:
    data: SplitData = load_split(two_tastes, SPLIT)
    models = [
        Popularity(),
        ItemKnn(),
        ImplicitAls(factors=8, iterations=10),
        ImplicitAls(factors=8, iterations=10, half_life_days=60),
        TrendPopularity(),
        HybridLightFm(params=Params(components=8, epochs=40, threads=1)),
    ]
    rows = {(r["model"], r["customers"]): r for r in evaluate_models(data, models)}
    popularity = rows[("popularity", "warm")]["ndcg@10"]
    learners = ("item-kNN", "implicit ALS", "implicit ALS, recency-weighted (60 days)")
    for name in (*learners, "LightFM hybrid (ours)"):
        assert rows[(name, "warm")]["ndcg@10"] > popularity + 0.1, name
        assert rows[(name, "warm")]["users"] == 60
    assert rows[("LightFM hybrid (ours)", "cold")]["users"] == 1


def test_the_evaluate_command_prints_every_model(two_tastes: Database, database_url: str) -> None:
    from tests.personalization.test_cli import run_cli

    result = run_cli("--json", "evaluate", database_url=database_url)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["results"]
    assert {r["model"] for r in rows} == {
        "popularity",
        "item-kNN",
        "implicit ALS",
        "trend (14 days)",
        "implicit ALS, recency-weighted (60 days)",
        "LightFM hybrid (ours)",
    }
    table = run_cli("evaluate", database_url=database_url)
    assert "NDCG@10" in table.stdout and "60 warm and 1 cold" in table.stdout

    empty = run_cli("evaluate", "--split-at", "2030-01-01", database_url=database_url)
    assert empty.returncode == 1 and "no purchases after 2030-01-01" in empty.stderr
