"""Erasure jobs: complete, idempotent, retried through outages, audited, and forgotten."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
import redis

from personalization.jobs.erasure import (
    DONE,
    FAILED,
    PENDING,
    ErasureInbox,
    ErasureJobs,
    ErasureRequest,
    ErasureServices,
    subject_of,
)
from personalization.jobs.worker import Worker
from personalization.privacy import ConversationStore
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.service import RecommendationService
from personalization.recommender.training import _without_erased, train
from personalization.settings import DatabaseSettings, ErasureSettings, RetentionSettings
from personalization.store import Database, StoreUnavailable
from tests.conftest import Servers
from tests.personalization.jobs.conftest import KEY, database_down, with_redis_down
from tests.personalization.recommender.conftest import FAST
from tests.personalization.test_privacy import seed_everything, seed_identity


def rows(db: Database, query: str, *params: Any) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute(query, params)
        return [dict(r) for r in cur.fetchall()]


def add_events(db: Database, *senders: str) -> None:
    with db.cursor() as cur:
        for sender in senders:
            cur.execute(
                "INSERT INTO events (sender_id, data) VALUES (%s, %s)",
                (sender, json.dumps({"event": "user", "text": "hello", "timestamp": 1.7e9})),
            )


def job_row(db: Database, reference: str) -> dict[str, Any]:
    [row] = rows(db, "SELECT * FROM erasure_jobs WHERE reference = %s", reference)
    return row


def leftovers(db: Database, customer_id: str) -> list[str]:
    """Tables still holding a row of the customer (the audit is the proof, not data)."""
    tables = [
        r["table_name"]
        for r in rows(
            db,
            "SELECT DISTINCT table_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = 'customer_id' "
            "AND table_name <> 'consent_audit'",
        )
    ]
    return [t for t in tables if rows(db, f"SELECT 1 FROM {t} WHERE customer_id = %s", customer_id)]


def test_a_job_erases_every_conversation_and_keeps_only_a_pseudonym(
    db: Database,
    jobs: ErasureJobs,
    conversations: ConversationStore,
    redis_client: redis.Redis,
) -> None:
    seed_everything(db, "cust-j1", "conv-j1")
    seed_identity(db, "cust-j1")
    with db.cursor() as cur:  # known only through the broker's record of proven identity
        cur.execute(
            "INSERT INTO customer_conversations (customer_id, conversation_id) "
            "VALUES ('cust-j1', 'socket-only-here')"
        )
    add_events(db, "socket-only-here", "rest:cust-j1+phone", "rest:cust-j10+other", "bystander")
    kept = ("rest:cust-j10+other", "bystander", "someone-else", "stranger-guessing")
    erased = ("cust-j1", "conv-j1", "socket-only-here", "rest:cust-j1+phone", "slack:D1:U1")
    for conversation in (*erased, "rest:cust-j1+never-streamed", *kept):
        redis_client.set(conversations.key(conversation), "{}")
    redis_client.set(conversations.lock_key("socket-only-here"), "lock")

    reference = jobs.request("cust-j1", {"chat-of-request"}, "chat")
    assert jobs.status(reference) == PENDING
    assert jobs.run_due() == 1

    assert jobs.status(reference) == DONE
    assert leftovers(db, "cust-j1") == []
    senders = {r["sender_id"] for r in rows(db, "SELECT sender_id FROM events")}
    assert senders == {"rest:cust-j10+other", "bystander", "someone-else", "stranger-guessing"}
    for conversation in (*erased, "rest:cust-j1+never-streamed"):
        assert redis_client.exists(conversations.key(conversation)) == 0, conversation
    assert redis_client.exists(conversations.lock_key("socket-only-here")) == 0
    for conversation in kept:
        assert redis_client.exists(conversations.key(conversation)) == 1, conversation

    job = job_row(db, reference)
    assert job["customer_id"] is None and job["subject"] == subject_of(KEY, "cust-j1")
    assert job["result"]["event_rows_deleted"] == 7
    assert job["result"]["rows_deleted"]["customer_conversations"] == 1
    [entry] = rows(
        db, "SELECT details FROM consent_audit WHERE customer_id = 'cust-j1' AND action = 'erase'"
    )
    assert entry["details"]["reference"] == reference
    assert entry["details"]["rows_deleted"]["customers"] == 1

    assert jobs.sweep_due() == 1, "the conversations are swept once more"
    job = job_row(db, reference)
    assert job["conversation_ids"] == [] and job["sweep_after"] is None
    assert "cust-j1" not in json.dumps(job, default=str), "no clear id survives the job"


def test_the_sweep_removes_what_rasa_saved_after_the_reply(
    db: Database, jobs: ErasureJobs, conversations: ConversationStore, redis_client: redis.Redis
) -> None:
    seed_everything(db, "cust-j2", "conv-j2")
    reference = jobs.request("cust-j2", {"chat-j2"}, "chat")
    jobs.run_due()
    add_events(db, "chat-j2")  # streamed by Rasa after the erasing action returned
    redis_client.set(conversations.key("chat-j2"), "{}")
    assert jobs.sweep_due() == 1
    assert rows(db, "SELECT 1 FROM events WHERE sender_id = 'chat-j2'") == []
    assert redis_client.exists(conversations.key("chat-j2")) == 0
    assert job_row(db, reference)["result"]["swept"] == {
        "event_rows_deleted": 1,
        "redis_keys_deleted": 1,
    }


def test_running_a_job_twice_is_harmless(db: Database, jobs: ErasureJobs) -> None:
    seed_everything(db, "cust-j3", "conv-j3")
    first = jobs.request("cust-j3", set(), "cli")
    jobs.run_due()
    with db.cursor() as cur:  # as if the worker died before its "done" was recorded
        cur.execute(
            "UPDATE erasure_jobs SET status = 'pending', customer_id = 'cust-j3' "
            "WHERE reference = %s",
            (first,),
        )
    assert jobs.run_due() == 1
    again = job_row(db, first)
    assert again["status"] == DONE and again["result"]["rows_deleted"]["customers"] == 1
    second = jobs.request("cust-j3", set(), "cli")  # asked again after it was done
    assert second != first and jobs.run_now(second)
    assert jobs.status(second) == DONE
    assert job_row(db, second)["result"]["rows_deleted"] == {}


def test_asking_twice_before_the_worker_came_is_one_job(db: Database, jobs: ErasureJobs) -> None:
    seed_everything(db, "cust-j4", "conv-j4")
    first = jobs.request("cust-j4", {"web-1"}, "chat")
    assert jobs.request("cust-j4", {"web-2"}, "chat") == first
    assert job_row(db, first)["conversation_ids"] == ["web-1", "web-2"]


def test_a_redis_failure_is_retried_then_marked_failed_for_an_operator(
    db: Database,
    erasure_settings: ErasureSettings,
    services: ErasureServices,
    conversations: ConversationStore,
    redis_client: redis.Redis,
) -> None:
    seed_everything(db, "cust-j5", "conv-j5")
    redis_client.set(conversations.key("conv-j5"), "{}")
    broken = ErasureJobs(db, erasure_settings, with_redis_down(services))
    reference = broken.request("cust-j5", set(), "chat")
    for attempt in range(1, erasure_settings.max_attempts + 1):
        assert broken.run_due() == 1
        job = job_row(db, reference)
        assert (job["attempts"], job["last_error"]) == (attempt, "ConnectionError")
    assert job["status"] == FAILED and job["customer_id"] == "cust-j5"
    assert rows(db, "SELECT 1 FROM customers WHERE id = 'cust-j5'") == [], "PostgreSQL done"
    assert broken.run_due() == 0, "a failed job waits for an operator"

    healthy = ErasureJobs(db, erasure_settings, services)
    assert healthy.retry_failed() == [reference]
    assert healthy.run_due() == 1
    assert healthy.status(reference) == DONE
    assert redis_client.exists(conversations.key("conv-j5")) == 0


def test_retries_back_off(db: Database, services: ErasureServices, prefix: str) -> None:
    settings = ErasureSettings(redis_url="", retry_base_s=30.0, queue_prefix=prefix)
    seed_everything(db, "cust-j6", "conv-j6")
    broken = ErasureJobs(db, settings, with_redis_down(services))
    reference = broken.request("cust-j6", set(), "chat")
    broken.run_due()
    [due] = rows(
        db,
        "SELECT next_attempt_at - now() > interval '25 seconds' AS later "
        "FROM erasure_jobs WHERE reference = %s",
        reference,
    )
    assert due["later"] and broken.run_due() == 0


def test_the_worker_rides_out_a_postgresql_outage(
    db: Database,
    database_url: str,
    erasure_settings: ErasureSettings,
    services: ErasureServices,
) -> None:
    seed_everything(db, "cust-j7", "conv-j7")
    reference = ErasureJobs(db, erasure_settings).request("cust-j7", set(), "chat")
    down = database_down()
    with pytest.raises(StoreUnavailable):
        ErasureJobs(down, erasure_settings, services).run_due()
    retention = RetentionSettings()
    worker = Worker(down, DatabaseSettings(url="x"), erasure_settings, retention, services)
    assert worker.run_once() is False, "an outage is a failed round, never a crash"

    worker = Worker(db, DatabaseSettings(url=database_url), erasure_settings, retention, services)
    assert worker.run_once() is True
    assert ErasureJobs(db, erasure_settings).status(reference) == DONE


def test_a_request_made_while_postgresql_is_down_is_completed_from_redis(
    db: Database,
    database_url: str,
    erasure_settings: ErasureSettings,
    services: ErasureServices,
    redis_client: redis.Redis,
) -> None:
    seed_everything(db, "cust-j8", "conv-j8")
    request = ErasureRequest.new("cust-j8", {"chat-j8"}, "chat")
    with pytest.raises(StoreUnavailable):
        ErasureJobs(database_down(), erasure_settings).record(request)
    inbox = ErasureInbox(erasure_settings)
    inbox.push(request)
    assert redis_client.llen(erasure_settings.queue_key) == 1

    worker = Worker(
        db, DatabaseSettings(url=database_url), erasure_settings, RetentionSettings(), services
    )
    assert worker.run_once()
    jobs = ErasureJobs(db, erasure_settings)
    assert jobs.status(request.reference) == DONE
    assert redis_client.llen(erasure_settings.queue_key) == 0
    assert leftovers(db, "cust-j8") == []
    inbox.push(request)  # the same entry again (a crash before it left the list): a no-op
    assert worker.run_once()
    assert rows(db, "SELECT count(*) AS n FROM erasure_jobs")[0]["n"] == 1


def test_an_unreadable_request_is_set_aside_not_lost(
    db: Database, erasure_settings: ErasureSettings, redis_client: redis.Redis
) -> None:
    redis_client.rpush(erasure_settings.queue_key, "not json")
    assert ErasureInbox(erasure_settings).drain(ErasureJobs(db, erasure_settings)) == 0
    assert redis_client.llen(erasure_settings.queue_key) == 0
    assert redis_client.lrange(f"{erasure_settings.queue_key}:unreadable", 0, -1) == ["not json"]


def test_the_loaded_model_forgets_the_customer(
    shop: Database,
    registry: ModelRegistry,
    cache: RecommendationCache,
    erasure_settings: ErasureSettings,
    services: ErasureServices,
) -> None:
    train(shop, registry, cache, params=FAST, tune=False)
    running = RecommendationService(shop, registry, cache, reload_check_s=0.0)
    slow = RecommendationService(shop, registry, reload_check_s=3600.0)
    assert running.recommend("cust-0001").source == "model"
    assert slow.recommend("cust-0001").source == "model"
    generation = registry.generation()

    jobs = ErasureJobs(shop, erasure_settings, replace(services, registry=registry))
    reference = jobs.request("cust-0001", set(), "chat")
    jobs.run_due()

    assert jobs.view(reference).result["recommender_versions_pruned"] == 1  # type: ignore[union-attr]
    assert registry.generation() != generation, "the rewrite is visible to running processes"
    assert running._model is not None and running._model.knows("cust-0001")
    after = running.recommend("cust-0001")
    assert after.source != "model" and not running._model.knows("cust-0001")
    assert running.recommend("cust-0002").source == "model", "others keep their answers"
    assert slow._model is not None and slow._model.knows("cust-0001"), "checked every hour only"


def test_a_model_trained_during_an_erasure_does_not_bring_the_customer_back(
    shop: Database, registry: ModelRegistry
) -> None:
    version = train(shop, registry, params=FAST, tune=False).version
    fitted = registry.load(version)
    with shop.cursor() as cur:
        cur.execute("DELETE FROM customers WHERE id = 'cust-0002'")  # erased while fitting
    saved = _without_erased(shop, fitted)  # what training does before it saves
    assert not saved.knows("cust-0002") and saved.knows("cust-0001")


def test_after_the_last_sweep_redis_keeps_no_copy_of_the_tracker_on_disk(
    db: Database,
    jobs: ErasureJobs,
    conversations: ConversationStore,
    redis_client: redis.Redis,
    servers: Servers,
) -> None:
    """A DEL leaves the tracker in Redis's append-only file and snapshot until they are
    rewritten; the last sweep has them rewritten."""
    marker = f"words-of-cust-j9-{uuid.uuid4().hex}"
    seed_everything(db, "cust-j9", "conv-j9")
    redis_client.set(conversations.key("conv-j9"), json.dumps({"text": marker}))
    redis_client.execute_command("BGREWRITEAOF")  # as if the tracker were on disk for long
    time.sleep(1)
    jobs.request("cust-j9", {"conv-j9"}, "chat")
    jobs.run_due()
    assert jobs.sweep_due() == 1

    def on_disk() -> list[str]:
        return [
            path.name
            for path in servers.redis.root.rglob("*")
            if path.is_file() and marker.encode() in path.read_bytes()
        ]

    deadline = time.monotonic() + 15
    while on_disk() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert on_disk() == []
