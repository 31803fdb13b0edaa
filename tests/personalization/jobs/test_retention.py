"""Retention deletes what is past its period, keeps what is not, and blanks opted-out words."""

from __future__ import annotations

import json
import time
from typing import Any

from personalization.jobs.retention import Retention
from personalization.privacy import set_personalization
from personalization.settings import RetentionSettings
from personalization.store import Database

DAY = 86400.0


def rows(db: Database, query: str, *params: Any) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute(query, params)
        return [dict(r) for r in cur.fetchall()]


def event(db: Database, sender: str, age_s: float, text: str = "hello", kind: str = "user") -> None:
    data = {
        "event": kind,
        "timestamp": time.time() - age_s,
        "text": text,
        "parse_data": {"text": text, "intent": {"name": "greet"}, "entities": [{"value": text}]},
    }
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO events (sender_id, data) VALUES (%s, %s)", (sender, json.dumps(data))
        )


def seed(db: Database) -> None:
    with db.cursor() as cur:
        cur.execute("INSERT INTO customers (id) VALUES ('cust-r1'), ('cust-r2')")
        for age, status in ((400, "closed"), (400, "open"), (10, "closed")):
            cur.execute(
                "INSERT INTO support_tickets (customer_id, conversation_id, status, reason, "
                "summary, created_at, updated_at) VALUES ('cust-r1', 'c', %s, 'r', 's', "
                "now() - make_interval(days => %s), now() - make_interval(days => %s))",
                (status, age, age),
            )
        for age in (400, 10):
            cur.execute(
                "INSERT INTO feedback (customer_id, conversation_id, kind, value, created_at) "
                "VALUES ('cust-r1', 'c', 'csat', 4, now() - make_interval(days => %s))",
                (age,),
            )
            cur.execute(
                "INSERT INTO event_dead_letters (sender_id, reason, data, failed_at) "
                "VALUES ('x', 'DataError', '{}', now() - make_interval(days => %s))",
                (age // 10,),
            )
        cur.execute(
            "INSERT INTO erasure_jobs (reference, subject, source, status, completed_at) VALUES "
            "('ER-OLD', 'h1', 'chat', 'done', now() - interval '40 days'), "
            "('ER-NEW', 'h2', 'chat', 'done', now() - interval '1 day')"
        )
        cur.execute(
            "INSERT INTO experiments (name, factor, arms, control_arm, primary_metric, "
            "starts_at) VALUES ('x', 'recommender', '[]', 'a', 'csat', now())"
        )
        for age in (400, 10):
            cur.execute(
                "INSERT INTO experiment_assignments (experiment, unit_id, arm) "
                "VALUES ('x', %s, 'a')",
                (f"conversation:c{age}",),
            )
            cur.execute(
                "INSERT INTO experiment_exposures (experiment, conversation_id, unit_id, arm, "
                "served_arm, exposed_at) "
                "VALUES ('x', %s, %s, 'a', 'a', now() - make_interval(days => %s))",
                (f"c{age}", f"conversation:c{age}", age),
            )
        cur.execute(
            "INSERT INTO identity_proofs (conversation_id, customer_id, channel, method, "
            "verified_at, expires_at) VALUES ('web-r2', 'cust-r2', 'web', 'token', now(), now())"
        )


def test_old_records_go_and_fresh_ones_stay(db: Database) -> None:
    seed(db)
    event(db, "old-visitor", 100 * DAY)
    with db.cursor() as cur:
        cur.execute("INSERT INTO events (sender_id, data) VALUES ('broken', 'not json')")
    event(db, "old-visitor", 95 * DAY)
    event(db, "new-visitor", 1 * DAY)
    event(db, "late-writer", 200 * DAY)  # written late by the broker: after a fresh one

    counts = Retention(db, RetentionSettings()).run()

    assert counts["events"] == 3, "two expired, and the unreadable row before them"
    assert [r["sender_id"] for r in rows(db, "SELECT sender_id FROM events ORDER BY id")] == [
        "new-visitor",
        "late-writer",
    ]
    assert counts["support_tickets"] == 2, "untouched for a year, closed or not"
    assert [r["status"] for r in rows(db, "SELECT status FROM support_tickets")] == ["closed"]
    assert counts["feedback"] == 1 and len(rows(db, "SELECT 1 FROM feedback")) == 1
    assert counts["event_dead_letters"] == 1
    assert counts["experiment_exposures"] == 1
    assert counts["experiment_assignments"] == 1, "the unit whose conversation expired"
    assert rows(db, "SELECT unit_id FROM experiment_assignments") == [
        {"unit_id": "conversation:c10"}
    ]
    assert rows(db, "SELECT conversation_id FROM experiment_exposures") == [
        {"conversation_id": "c10"}
    ]
    assert counts["erasure_jobs"] == 1
    assert [r["reference"] for r in rows(db, "SELECT reference FROM erasure_jobs")] == ["ER-NEW"]
    assert Retention(db, RetentionSettings()).run()["events"] == 0, "nothing left to do"


def test_a_zero_period_keeps_records_forever(db: Database) -> None:
    seed(db)
    event(db, "old-visitor", 100 * DAY)
    settings = RetentionSettings(event_days=0, ticket_days=0, feedback_days=0)
    counts = Retention(db, settings).run()
    assert (counts["events"], counts["support_tickets"], counts["feedback"]) == (0, 0, 0)


def test_small_batches_reach_the_end(db: Database) -> None:
    for _ in range(7):
        event(db, "old-visitor", 100 * DAY)
    event(db, "new-visitor", 0)
    assert Retention(db, RetentionSettings(batch_size=2)).run()["events"] == 7


def test_opted_out_customers_words_are_removed_after_a_day(db: Database) -> None:
    seed(db)
    set_personalization(db, "cust-r2", False, "chat")
    event(db, "web-r2", 2 * DAY, "my email is ann@example.com")  # proven conversation
    event(db, "rest:cust-r2+phone", 2 * DAY, "order 536365")  # REST with the token
    event(db, "web-r2", 60, "still talking")  # the conversation still needs it
    event(db, "web-r2", 2 * DAY, "How can I help?", kind="bot")
    event(db, "cust-r1", 2 * DAY, "I did not opt out")

    counts = Retention(db, RetentionSettings()).run()

    assert counts["opted_out_texts"] == 2
    stored = [json.loads(r["data"]) for r in rows(db, "SELECT data FROM events ORDER BY id")]
    assert [e.get("text") for e in stored] == [
        None,
        None,
        "still talking",
        "How can I help?",
        "I did not opt out",
    ]
    blanked = stored[0]
    assert blanked["text_removed"] and "text" not in blanked["parse_data"]
    assert "entities" not in blanked["parse_data"] and blanked["parse_data"]["intent"]
    assert "ann@example.com" not in json.dumps(stored)
    assert Retention(db, RetentionSettings()).run()["opted_out_texts"] == 0
