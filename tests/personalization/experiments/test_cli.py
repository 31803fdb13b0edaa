"""`personalization experiment ...` as an operator runs it, against real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.segments import Segmenter
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from tests.personalization.test_cli import run_cli

FILE = """
experiments:
  - name: style-test
    factor: response_style
    starts: 2026-01-01
    arms:
      - {name: bandit, style: bandit}
      - {name: fixed, style: concise_formal}
"""


def test_sync_then_report_with_statistics_and_a_verdict(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "experiments.yml"
    path.write_text(FILE)
    synced = run_cli("--json", "experiment", "sync", str(path), database_url=database_url)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["synced"] == ["style-test"]
    with db.cursor() as cur:
        for i in range(40):
            arm = "fixed" if i % 2 else "bandit"
            cur.execute(
                "INSERT INTO experiment_assignments (experiment, unit_id, arm) "
                "VALUES ('style-test', %s, %s)",
                (f"conversation:c{i}", arm),
            )
            cur.execute(
                "INSERT INTO experiment_exposures (experiment, conversation_id, unit_id, arm, "
                "served_arm) VALUES ('style-test', %s, %s, %s, %s)",
                (f"c{i}", f"conversation:c{i}", arm, arm),
            )
            cur.execute(
                "INSERT INTO feedback (conversation_id, kind, value) VALUES (%s, 'csat', %s)",
                (f"c{i}", 5 if arm == "fixed" else 2 + i % 3),
            )
    report = run_cli("experiment", "report", "style-test", database_url=database_url)
    assert report.returncode == 0, report.stderr
    assert "csat" in report.stdout and "Welch" in report.stdout and "Holm" in report.stdout
    assert "verdict for fixed: fixed is better than bandit on csat" in report.stdout
    as_json = run_cli("--json", "experiment", "report", "style-test", database_url=database_url)
    data = json.loads(as_json.stdout)
    assert data["arms"]["fixed"]["csat"]["n"] == 20 and data["arms"]["fixed"]["csat"]["mean"] == 5
    listed = run_cli("experiment", "list", database_url=database_url)
    assert "style-test: response_style" in listed.stdout and "fixed (20 units)" in listed.stdout


def test_mistakes_are_one_clear_line(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "experiments.yml"
    path.write_text(FILE.replace("concise_formal", "shouty"))
    bad = run_cli("experiment", "sync", str(path), database_url=database_url)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: experiment style-test: arm fixed: style 'shouty' is not valid for a "
        "response_style experiment"
    )
    unknown = run_cli("experiment", "report", "nope", database_url=database_url)
    assert unknown.returncode == 1 and "no experiment named 'nope'" in unknown.stderr
    empty = run_cli("experiment", "simulate", "--runs", "2", database_url=database_url)
    assert empty.returncode == 1 and "personalization segment" in empty.stderr


def test_simulate_prints_the_aa_rate_power_and_regret(db: Database, database_url: str) -> None:
    load_demo_customers(CustomerRepository(db))
    load_demo_shop(db, demo_customers())
    Segmenter(db).run()
    result = run_cli(
        "--json",
        "experiment",
        "simulate",
        "--runs",
        "5",
        "--customers",
        "10",
        "--power-customers",
        "10",
        "--bandit-rounds",
        "300",
        database_url=database_url,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["population"] >= 10
    assert data["aa_false_positive_rate"]["runs"] == 5
    assert set(data["power"]) == {"10"}
    assert data["bandit"]["rounds"] == 300
