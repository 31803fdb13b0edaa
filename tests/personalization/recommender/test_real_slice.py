"""The whole recommender life cycle through the CLI, on a slice of the real order export.

Import → segment → train → recommend (computed, then cached in Redis) → retrain →
rollback, against the real PostgreSQL and Redis servers of the test session.
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
import redis

from tests.conftest import Servers
from tests.personalization.test_cli import run_cli
from tests.personalization.test_importer import shared_online_retail

pytestmark = pytest.mark.skipif(
    not shared_online_retail().exists(),
    reason="the real order export is not at $SHARED_DATASETS/online_retail/online_retail.csv.gz",
)


def test_import_segment_train_recommend_cache_and_roll_back(
    empty_database_url: str, servers: Servers, tmp_path: Path
) -> None:
    slice_path = tmp_path / "slice.csv.gz"
    with (
        gzip.open(shared_online_retail(), "rt", newline="") as source,
        gzip.open(slice_path, "wt", newline="") as out,
    ):
        out.writelines(itertools.islice(source, 60_001))  # about six weeks of orders
    env = {
        "REDIS_URL": servers.redis_url,
        "RECOMMENDER_DIR": str(tmp_path / "recommender"),
        "PSEUDONYM_KEY": "slice-test-key-0123456789",
        "TRACKER_KEY_PREFIX": "slicetest",
    }

    def cli(*args: str, timeout: int = 120) -> dict:
        done = run_cli("--json", *args, database_url=empty_database_url, timeout=timeout, **env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    cli("migrate")
    imported = cli("import-transactions", str(slice_path), "--no-progress")
    assert imported["customers"] > 1000 and imported["orders"] > 1500
    segments = cli("segment")
    assert segments["customers"] > 1000

    first = cli("train", "--epochs", "15", timeout=300)
    assert first["customers"] > 500 and first["products"] > 1000
    assert first["metrics"]["validation_ndcg@10"] is not None, "the trend blend was tuned"
    customer = _a_customer_with_orders(empty_database_url)

    computed = cli("recommend", customer, "-n", "10")
    assert (computed["source"], computed["cached"]) == ("model", False)
    assert computed["model_version"] == first["version"] and len(computed["items"]) == 10
    client = redis.Redis.from_url(servers.redis_url)
    key = f"slicetest:reco:{first['version']}:{customer}"
    assert client.ttl(key) > 0, "the list is cached with a TTL"
    cached = cli("recommend", customer, "-n", "10")
    assert cached["cached"] and cached["items"] == computed["items"]

    second = cli("train", "--epochs", "15", "--no-tune", timeout=300)
    assert second["previous_version"] == first["version"]
    assert second["cache_keys_invalidated"] == 1 and client.exists(key) == 0
    assert cli("recommend", customer)["model_version"] == second["version"]

    rolled = cli("rollback")
    assert rolled == {
        "version": first["version"],
        "rolled_back_from": second["version"],
        "cache_keys_invalidated": 1,
    }
    back = cli("recommend", customer, "-n", "10")
    assert back["model_version"] == first["version"] and back["items"] == computed["items"]

    nothing_left = run_cli("rollback", database_url=empty_database_url, **env)
    assert nothing_left.returncode == 1 and "nothing to roll back" in nothing_left.stderr
    client.close()


def _a_customer_with_orders(database_url: str) -> str:
    import psycopg2

    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT customer_id FROM orders GROUP BY 1 HAVING count(*) >= 3 ORDER BY 1 LIMIT 1"
        )
        return cur.fetchone()[0]
