"""The recommender commands' errors and output, as an operator sees them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.personalization.test_cli import PSEUDONYM_KEY, run_cli


def test_train_without_orders_fails_clearly(database_url: str, tmp_path: Path) -> None:
    done = run_cli("train", database_url=database_url, RECOMMENDER_DIR=str(tmp_path))
    assert done.returncode == 1
    assert "no orders to train on" in done.stderr and "Traceback" not in done.stderr


def test_rollback_before_any_training(database_url: str, tmp_path: Path) -> None:
    done = run_cli("rollback", database_url=database_url, RECOMMENDER_DIR=str(tmp_path))
    assert done.returncode == 1 and "run `train` first" in done.stderr


def test_recommend_and_articles_on_the_demo_shop(empty_database_url: str, tmp_path: Path) -> None:
    env = {"RECOMMENDER_DIR": str(tmp_path), "PSEUDONYM_KEY": PSEUDONYM_KEY}
    for command in (("migrate",), ("demo-data",), ("segment",)):
        assert run_cli(*command, database_url=empty_database_url, **env).returncode == 0
    table = run_cli("recommend", "cust-0003", "-n", "3", database_url=empty_database_url, **env)
    assert table.returncode == 0, table.stderr
    assert "cust-0003: segment popularity, model none" in table.stdout
    assert len(table.stdout.strip().splitlines()) == 4

    articles = run_cli(
        "--json",
        "articles",
        "I was charged twice for one order",
        "--lexical-only",
        database_url=empty_database_url,
    )
    assert articles.returncode == 0, articles.stderr
    assert json.loads(articles.stdout)["articles"][0]["id"] == "charged-twice"
