"""The worker as its own process, and the operators' commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from personalization.cli import main
from personalization.experiments.repository import ExperimentRepository
from personalization.jobs.erasure import DONE, FAILED, ErasureJobs
from personalization.settings import ErasureSettings
from personalization.store import Database
from tests.conftest import PROJECT_ROOT, Servers
from tests.personalization.experiments.test_repository import seed_harmful_arm, style_experiment
from tests.personalization.jobs.conftest import closed_port
from tests.personalization.test_privacy import seed_everything


@pytest.fixture
def worker_env(
    database_url: str,
    servers: Servers,
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": servers.redis_url,
        "TRACKER_KEY_PREFIX": prefix,
        "LOCK_KEY_PREFIX": prefix,
        "RECOMMENDER_DIR": str(tmp_path / "recommender"),
        "ERASURE_SWEEP_DELAYS_S": "0",
        "JOBS_POLL_S": "0.5",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **values}


def test_the_worker_runs_jobs_as_they_come_and_stops_on_sigterm(
    db: Database, worker_env: dict[str, str]
) -> None:
    seed_everything(db, "cust-w1", "conv-w1")
    worker = subprocess.Popen(
        [sys.executable, "-m", "personalization.jobs.worker"],
        cwd=PROJECT_ROOT,
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(1.5)  # started and listening
        jobs = ErasureJobs(db, ErasureSettings.from_env())
        started = time.monotonic()
        reference = jobs.request("cust-w1", {"chat-w1"}, "chat")
        assert jobs.wait_for(reference, 10.0) == DONE
        assert time.monotonic() - started < 1.5, "woken by the request, not by polling late"
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0
    assert f"erasure job {reference} done" in output
    assert "retention run" in output and "worker stopped" in output
    assert "cust-w1" not in output and "conv-w1" not in output, "no customer data in the log"


def test_the_worker_keeps_running_while_postgresql_is_down(worker_env: dict[str, str]) -> None:
    env = {**worker_env, "DATABASE_URL": f"postgresql://shop@127.0.0.1:{closed_port()}/shop"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "personalization.jobs.worker"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(3)
        assert worker.poll() is None, "still running"
        worker.send_signal(signal.SIGINT)
        output, _ = worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0
    assert "erasure jobs failed (StoreUnavailable); retrying with back-off" in output
    assert "Traceback" not in output


def test_erase_command_runs_the_job_now_and_prints_counts(
    db: Database, worker_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    seed_everything(db, "cust-w2", "conv-w2")
    assert main(["--json", "erase", "cust-w2", "--yes"]) == 0
    printed = capsys.readouterr().out
    assert '"status": "done"' in printed and '"customers": 1' in printed
    assert main(["erase", "cust-w2", "--yes"]) == 1, "an unknown customer is an error"


def test_erasure_retry_command_completes_a_failed_job(
    db: Database, worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_everything(db, "cust-w3", "conv-w3")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    monkeypatch.setenv("ERASURE_MAX_ATTEMPTS", "1")
    assert main(["erase", "cust-w3", "--yes"]) == 1, "Redis is down: not erased everywhere"
    [reference] = [r for (r,) in _references(db)]
    assert ErasureJobs(db, ErasureSettings.from_env()).status(reference) == FAILED
    monkeypatch.setenv("REDIS_URL", worker_env["REDIS_URL"])
    assert main(["erasure", "retry", reference]) == 0
    assert ErasureJobs(db, ErasureSettings.from_env()).status(reference) == DONE


def _references(db: Database) -> list[tuple[str]]:
    with db.cursor() as cur:
        cur.execute("SELECT reference FROM erasure_jobs")
        return [(r["reference"],) for r in cur.fetchall()]


def test_retention_command_prints_counts(
    db: Database, worker_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retention", "run"]) == 0
    assert "events" in capsys.readouterr().out


def test_one_worker_round_stops_an_arm_a_guardrail_shows_worse(
    db: Database, worker_env: dict[str, str]
) -> None:
    repository = ExperimentRepository(db)
    experiment = style_experiment()
    repository.sync([experiment])
    seed_harmful_arm(db, repository, experiment)
    done = subprocess.run(
        [sys.executable, "-m", "personalization.jobs.worker", "--once"],
        cwd=PROJECT_ROOT,
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "experiment style-test: arm fixed stopped (guardrail csat: -" in done.stderr
    assert list(repository.get("style-test").stopped_arms) == ["fixed"]
