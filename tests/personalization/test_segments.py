from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from personalization.segments import Segmenter, score, segment_name
from personalization.store import Database

NOW = datetime(2011, 12, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("rfm", "name"),
    [
        ((5, 5, 5), "Champions"),
        ((4, 4, 4), "Champions"),
        ((3, 5, 2), "Loyal"),
        ((5, 1, 1), "New"),
        ((4, 2, 3), "Potential loyalist"),
        ((2, 4, 5), "At risk"),
        ((1, 1, 1), "Lost"),
        ((2, 2, 2), "Hibernating"),
        ((3, 1, 3), "Hibernating"),
    ],
)
def test_segment_names_follow_the_rfm_grid(rfm: tuple[int, int, int], name: str) -> None:
    assert segment_name(*rfm) == name


def test_scores_use_the_edges_and_ties_share_a_score() -> None:
    edges = [1.0, 2.0, 3.0, 5.0]
    assert [score(v, edges) for v in (1, 1, 2, 3, 4, 5, 9)] == [1, 1, 2, 3, 4, 4, 5]
    assert score(0, [14, 33, 72, 180], higher_is_better=False) == 5, "recent is best"
    assert score(400, [14, 33, 72, 180], higher_is_better=False) == 1


def add_customer(db: Database, customer_id: str, orders: list[tuple[int, float]]) -> None:
    """`orders` as (days before NOW, total)."""
    with db.cursor() as cur:
        cur.execute("INSERT INTO customers (id) VALUES (%s) ON CONFLICT DO NOTHING", (customer_id,))
        for n, (days_ago, total) in enumerate(orders):
            cur.execute(
                "INSERT INTO orders (id, customer_id, ordered_at, total) VALUES (%s, %s, %s, %s)",
                (
                    f"{customer_id}-{n}-{days_ago}",
                    customer_id,
                    NOW - timedelta(days=days_ago),
                    total,
                ),
            )


@pytest.fixture
def three_kinds_of_customer(db: Database) -> Database:
    for i in range(20):  # frequent, recent, big spenders
        add_customer(db, f"vip-{i}", [(d, 400.0 + i) for d in range(1, 60, 5)])
    for i in range(20):  # one small order, long ago
        add_customer(db, f"gone-{i}", [(300 + i, 15.0 + i)])
    for i in range(20):  # a few medium orders, a while ago
        add_customer(db, f"mid-{i}", [(60 + i, 80.0), (120 + i, 90.0), (150, 60.0)])
    return db


def test_a_full_run_scores_clusters_names_and_records_history(
    three_kinds_of_customer: Database,
) -> None:
    db = three_kinds_of_customer
    result = Segmenter(db).run(as_of=NOW)
    assert set(result.model.silhouette) == set(range(2, 9))
    assert result.chosen_k == max(result.model.silhouette, key=result.model.silhouette.get)
    by_id = {a.customer_id: a for a in result.assignments}
    assert len(by_id) == 60
    assert {by_id[f"vip-{i}"].segment for i in range(20)} == {"Champions"}
    assert {by_id[f"gone-{i}"].segment for i in range(20)} <= {"Lost", "Hibernating"}
    assert len({by_id[f"vip-{i}"].cluster for i in range(20)}) == 1, "one cluster for VIPs"
    assert by_id["vip-0"].cluster != by_id["gone-0"].cluster

    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM segment_assignments")
        assert cur.fetchone()["n"] == 60
        cur.execute("SELECT count(*) AS n FROM segment_history")
        assert cur.fetchone()["n"] == 60
        cur.execute("SELECT count(*) AS n FROM segment_models")
        assert cur.fetchone()["n"] == 1

    again = Segmenter(db).run(as_of=NOW)
    assert again.changed == 0, "an unchanged segment adds no history"


def test_a_new_order_rescores_one_customer_with_the_stored_model(
    three_kinds_of_customer: Database,
) -> None:
    db = three_kinds_of_customer
    Segmenter(db).run(as_of=NOW)
    before = {a: b for a, b in _assignment(db, "gone-3").items()}
    assert before["segment"] in ("Lost", "Hibernating")

    add_customer(db, "gone-3", [(0, 900.0), (1, 800.0), (2, 700.0), (3, 650.0), (4, 500.0)])
    rescored = Segmenter(db).rescore("gone-3")
    assert rescored is not None
    assert (rescored.rfm.frequency, rescored.rfm.recency_days) == (6, 1), "as of the next day"
    assert rescored.segment == "Champions"
    assert _assignment(db, "gone-3")["segment"] == "Champions"
    with db.cursor() as cur:
        cur.execute("SELECT segment FROM segment_history WHERE customer_id = 'gone-3' ORDER BY id")
        assert [r["segment"] for r in cur.fetchall()] == [before["segment"], "Champions"]


def test_rescoring_needs_a_model_and_orders(db: Database) -> None:
    add_customer(db, "solo", [(3, 10.0)])
    assert Segmenter(db).rescore("solo") is None, "no segmentation run yet"


def test_too_few_customers_is_a_clear_error(db: Database) -> None:
    add_customer(db, "solo", [(3, 10.0)])
    with pytest.raises(ValueError, match="too few to segment"):
        Segmenter(db).run(as_of=NOW)


def _assignment(db: Database, customer_id: str) -> dict:
    with db.cursor() as cur:
        cur.execute("SELECT * FROM segment_assignments WHERE customer_id = %s", (customer_id,))
        return dict(cur.fetchone())
