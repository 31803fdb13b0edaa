"""Delete my data: the answer is always true, whichever stores are up, with or without the
worker having finished; and the export summary is bounded."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from actions import personalization_client
from actions.privacy import ActionExportData
from actions.yes_no import ActionAnswerYesNo
from personalization.jobs.erasure import DONE, ErasureServices
from personalization.jobs.worker import Worker
from personalization.settings import DatabaseSettings, ErasureSettings, RetentionSettings
from personalization.store import Database
from tests.actions.conftest import fetch, journey_tracker, responses, run_action, slot_events
from tests.conftest import Servers
from tests.personalization.jobs.conftest import closed_port

pytestmark = pytest.mark.usefixtures("store_with_demo_shop")


@pytest.fixture(autouse=True)
def redis_for_requests(
    servers: Servers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> ErasureSettings:
    prefix = f"a{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("REDIS_URL", servers.redis_url)
    monkeypatch.setenv("TRACKER_KEY_PREFIX", prefix)
    monkeypatch.setenv("LOCK_KEY_PREFIX", prefix)
    monkeypatch.setenv("RECOMMENDER_DIR", str(tmp_path / "recommender"))
    monkeypatch.setenv("ERASURE_SWEEP_DELAYS_S", "0")
    monkeypatch.setenv("JOBS_POLL_S", "0.2")
    return ErasureSettings.from_env()


def worker_for(database_url: str) -> Worker:
    settings = DatabaseSettings(url=database_url)
    return Worker(
        Database(settings),
        settings,
        ErasureSettings.from_env(),
        RetentionSettings(),
        ErasureServices.from_env(),
    )


@pytest.fixture
def running_worker(database_url: str) -> Iterator[Worker]:
    worker = worker_for(database_url)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    yield worker
    worker.stop()
    thread.join(timeout=10)


def confirm_erasure(domain: dict[str, Any]) -> Any:
    tracker = journey_tracker("yes", "affirm", sender_id="conv-erase", pending_question="erase")
    return run_action(ActionAnswerYesNo(), tracker, domain)


def alice_is_gone(db: Database) -> bool:
    return fetch(db, "SELECT id FROM customers WHERE id = 'cust-0001'") == []


def test_with_the_worker_running_the_customer_hears_it_is_done(
    store_with_demo_shop: Database, domain: dict[str, Any], running_worker: Worker
) -> None:
    result = confirm_erasure(domain)
    assert responses(result) == ["utter_erased"]
    assert result.messages[0]["reference"].startswith("ER-")
    assert result.seconds < 2.5
    assert alice_is_gone(store_with_demo_shop), "said deleted, and it is"
    assert slot_events(result)["customer_known"] is False
    [audit] = fetch(
        store_with_demo_shop,
        "SELECT details FROM consent_audit WHERE customer_id = 'cust-0001' AND action = 'erase'",
    )
    assert audit["details"]["reference"] == result.messages[0]["reference"]


def test_without_the_worker_the_customer_hears_when_it_will_be_done(
    store_with_demo_shop: Database, domain: dict[str, Any], database_url: str
) -> None:
    result = confirm_erasure(domain)
    assert responses(result) == ["utter_erasure_pending"]
    message = result.messages[0]
    assert message["minutes"] == 15 and message["reference"].startswith("ER-")
    assert 1.4 < result.seconds < 2.5, "waited a moment for the worker, within the deadline"
    assert not alice_is_gone(store_with_demo_shop), "not said to be deleted, and it is not yet"
    [job] = fetch(
        store_with_demo_shop,
        "SELECT status, conversation_ids FROM erasure_jobs WHERE reference = %s",
        message["reference"],
    )
    assert job == {"status": "pending", "conversation_ids": ["conv-erase"]}

    assert worker_for(database_url).run_once()
    assert alice_is_gone(store_with_demo_shop), "the promise is kept"


def test_with_postgresql_down_the_request_waits_in_redis_and_is_done_later(
    store_with_demo_shop: Database,
    domain: dict[str, Any],
    database_url: str,
    redis_for_requests: ErasureSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://shop@127.0.0.1:{closed_port()}/shop")
    personalization_client.reset()
    result = confirm_erasure(domain)
    assert responses(result) == ["utter_erasure_queued"]
    assert result.seconds < 2.5
    reference = result.messages[0]["reference"]
    client = redis.Redis.from_url(redis_for_requests.redis_url)
    try:
        assert client.llen(redis_for_requests.queue_key) == 1
    finally:
        client.close()
    assert not alice_is_gone(store_with_demo_shop)

    monkeypatch.setenv("DATABASE_URL", database_url)  # PostgreSQL is back
    assert worker_for(database_url).run_once()
    [job] = fetch(
        store_with_demo_shop, "SELECT status FROM erasure_jobs WHERE reference = %s", reference
    )
    assert job["status"] == DONE and alice_is_gone(store_with_demo_shop)


def test_with_both_stores_down_the_customer_hears_nothing_was_recorded(
    domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://shop@127.0.0.1:{closed_port()}/shop")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    personalization_client.reset()
    result = confirm_erasure(domain)
    assert responses(result) == ["utter_erasure_not_recorded"]
    assert result.seconds < 2.5
    assert slot_events(result) == {"pending_question": None}, "still signed in, may try again"


def test_the_export_summary_counts_without_reading_every_row(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    result = run_action(ActionExportData(), journey_tracker("my data?", "ask_my_data"), domain)
    assert responses(result) == ["utter_export"]
    summary = result.messages[0]["summary"]
    assert "Name: Alice" in summary and "Orders: 14" in summary
    assert fetch(
        store_with_demo_shop,
        "SELECT action FROM consent_audit WHERE customer_id = 'cust-0001'",
    ) == [{"action": "export"}]


def test_every_erasure_answer_is_a_response_of_the_domain(domain: dict[str, Any]) -> None:
    for name in (
        "utter_erased",
        "utter_erasure_pending",
        "utter_erasure_queued",
        "utter_erasure_not_recorded",
    ):
        assert name in domain["responses"], name
