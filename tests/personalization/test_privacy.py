"""Consent, export and erasure against real PostgreSQL and Redis."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import redis

from personalization.privacy import (
    ConversationStore,
    PrivacyError,
    erase_customer,
    export_customer,
    personalization_allowed,
    set_personalization,
)
from personalization.store import Database
from tests.conftest import Servers

WHEN = datetime(2011, 11, 5, 12, 0, tzinfo=timezone.utc)


def seed_everything(db: Database, customer_id: str, conversation: str) -> None:
    """A row for the customer in every table that can hold one."""
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO customers (id, display_name, email, country) VALUES (%s, %s, %s, %s)",
            (customer_id, "Erin Walsh", f"{customer_id}@example.com", "EIRE"),
        )
        cur.execute(
            "INSERT INTO products (stock_code, description, unit_price) "
            "VALUES ('LAMP1', 'BRASS LAMP', 25) ON CONFLICT DO NOTHING"
        )
        order = f"{customer_id}-o1"
        cur.execute(
            "INSERT INTO orders (id, customer_id, ordered_at, total) VALUES (%s, %s, %s, 50)",
            (order, customer_id, WHEN),
        )
        cur.execute("INSERT INTO order_lines VALUES (%s, 1, 'LAMP1', 2, 25)", (order,))
        cur.execute(
            "INSERT INTO returns VALUES (%s, 1, %s, 'LAMP1', 1, 25, %s, 'broken')",
            (f"C{customer_id}", customer_id, WHEN),
        )
        cur.execute(
            "INSERT INTO interactions (customer_id, kind, item_id) VALUES (%s, 'view', 'LAMP1')",
            (customer_id,),
        )
        cur.execute(
            "INSERT INTO message_sentiment (customer_id, conversation_id, score, label) "
            "VALUES (%s, %s, -0.6, 'negative')",
            (customer_id, conversation),
        )
        cur.execute(
            "INSERT INTO feedback (customer_id, conversation_id, kind, value) "
            "VALUES (%s, %s, 'csat', 4)",
            (customer_id, conversation),
        )
        cur.execute(
            "INSERT INTO support_tickets (customer_id, conversation_id, reason, summary) "
            "VALUES (%s, %s, 'explicit request', 'lamp broken')",
            (customer_id, conversation),
        )
        cur.execute(
            "INSERT INTO segment_assignments VALUES (%s, 'Loyal', 1, 3, 4, 3, 20, 6, "
            "300, 'rfm-test', now())",
            (customer_id,),
        )
        cur.execute(
            "INSERT INTO segment_history (customer_id, segment, r_score, f_score, "
            "m_score, model_version) VALUES (%s, 'Loyal', 3, 4, 3, 'rfm-test')",
            (customer_id,),
        )
        cur.execute(
            "INSERT INTO experiments (name, factor, arms, control_arm, primary_metric, "
            "starts_at) VALUES ('style-x', 'response_style', '[]', 'a', 'csat', now()) "
            "ON CONFLICT DO NOTHING"
        )
        cur.execute(
            "INSERT INTO experiment_assignments (experiment, unit_id, customer_id, arm) "
            "VALUES ('style-x', %s, %s, 'a')",
            (f"customer:{customer_id}", customer_id),
        )
        cur.execute(
            "INSERT INTO experiment_exposures (experiment, conversation_id, unit_id, "
            "customer_id, arm, served_arm) VALUES ('style-x', %s, %s, %s, 'a', 'a')",
            (conversation, f"customer:{customer_id}", customer_id),
        )
        cur.execute(
            "CREATE TABLE IF NOT EXISTS events (id serial PRIMARY KEY, "
            "sender_id varchar(255), data text)"
        )
        for sender in (customer_id, conversation, "someone-else"):
            cur.execute(
                "INSERT INTO events (sender_id, data) VALUES (%s, %s)",
                (sender, json.dumps({"event": "user", "text": "my lamp is broken"})),
            )
    set_personalization(db, customer_id, False, "test")
    with db.cursor() as cur:  # scored before the opt-out reached the refresh: still theirs
        cur.execute(
            "INSERT INTO churn_scores (customer_id, risk, factors, model_cutoff, scored_at) "
            "VALUES (%s, 0.7, '[]', '2011-09-11', now())",
            (customer_id,),
        )


def test_consent_changes_are_audited_once_each(db: Database) -> None:
    with db.cursor() as cur:
        cur.execute("INSERT INTO customers (id) VALUES ('cust-c1')")
    assert personalization_allowed(db, "cust-c1"), "personalised until they opt out"
    set_personalization(db, "cust-c1", False, "chat")
    set_personalization(db, "cust-c1", False, "chat")  # the same choice again
    assert not personalization_allowed(db, "cust-c1")
    set_personalization(db, "cust-c1", True, "chat")
    with db.cursor() as cur:
        cur.execute("SELECT action FROM consent_audit WHERE customer_id = 'cust-c1' ORDER BY id")
        assert [r["action"] for r in cur.fetchall()] == ["opt_out", "opt_in"]
    with pytest.raises(PrivacyError):
        set_personalization(db, "cust-nobody", False, "chat")


def test_export_holds_every_section_and_is_audited(db: Database) -> None:
    seed_everything(db, "cust-e1", "conv-e1")
    export = export_customer(db, "cust-e1")
    json.dumps(export)  # JSON-ready
    assert export["profile"]["display_name"] == "Erin Walsh"
    assert export["consent"]["personalization"] is False
    assert export["segment"]["segment"] == "Loyal"
    assert export["churn_risk"]["risk"] == pytest.approx(0.7)
    assert export["orders"][0]["lines"] == [
        {"stock_code": "LAMP1", "description": "BRASS LAMP", "quantity": 2, "unit_price": 25}
    ]
    for section in (
        "returns",
        "interactions",
        "message_sentiment",
        "feedback",
        "support_tickets",
        "segment_history",
        "consent_history",
        "experiments",
    ):
        assert len(export[section]) >= 1, section
    with db.cursor() as cur:
        cur.execute(
            "SELECT count(*) AS n FROM consent_audit "
            "WHERE customer_id = 'cust-e1' AND action = 'export'"
        )
        assert cur.fetchone()["n"] == 1


def test_erasure_leaves_nothing_in_postgres_or_redis(
    db: Database, servers: Servers, redis_client: redis.Redis
) -> None:
    seed_everything(db, "cust-x1", "conv-x1")
    store = ConversationStore(servers.redis_url, key_prefix="privacytest")
    for conversation in ("cust-x1", "conv-x1", "someone-else"):
        redis_client.set(store.key(conversation), "{}")

    report = erase_customer(db, "cust-x1", store)

    assert report.redis_keys_deleted == 2
    assert report.event_rows_deleted == 2
    assert report.conversations == 2
    assert redis_client.exists(store.key("someone-else")) == 1, "others are untouched"
    assert redis_client.exists(store.key("conv-x1")) == 0
    with db.cursor() as cur:
        cur.execute("""SELECT DISTINCT table_name FROM information_schema.columns
                       WHERE table_schema = current_schema() AND column_name = 'customer_id'
                         AND table_name <> 'consent_audit'""")
        tables = [r["table_name"] for r in cur.fetchall()]
        assert len(tables) >= 9
        for table in tables:
            cur.execute(f"SELECT count(*) AS n FROM {table} WHERE customer_id = 'cust-x1'")
            assert cur.fetchone()["n"] == 0, table
        cur.execute("SELECT count(*) AS n FROM customers WHERE id = 'cust-x1'")
        assert cur.fetchone()["n"] == 0
        cur.execute("SELECT sender_id FROM events")
        assert [r["sender_id"] for r in cur.fetchall()] == ["someone-else"]
        cur.execute("SELECT count(*) AS n FROM order_lines WHERE order_id = 'cust-x1-o1'")
        assert cur.fetchone()["n"] == 0
        cur.execute("SELECT action FROM consent_audit WHERE customer_id = 'cust-x1' ORDER BY id")
        assert [r["action"] for r in cur.fetchall()] == ["opt_out", "erase"], "the proof stays"
        cur.execute("SELECT count(*) AS n FROM products WHERE stock_code = 'LAMP1'")
        assert cur.fetchone()["n"] == 1, "the catalogue is not personal data"


def test_erasing_an_unknown_customer_is_an_error_and_changes_nothing(db: Database) -> None:
    with pytest.raises(PrivacyError, match="no customer"):
        erase_customer(db, "cust-nobody")
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM consent_audit")
        assert cur.fetchone()["n"] == 0


def seed_identity(db: Database, customer_id: str) -> None:
    """Proofs and sign-ins of the customer, each in a conversation nothing else names."""
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO identity_proofs (conversation_id, customer_id, channel, method, "
            "verified_at, expires_at) VALUES (%s, %s, 'rest', 'token', %s, %s)",
            ("rest:by-token", customer_id, WHEN, WHEN),
        )
        cur.execute(
            "INSERT INTO identity_proofs (conversation_id, customer_id, channel, method, "
            "verified_at, expires_at) VALUES (%s, %s, 'web', 'sign_in', %s, %s)",
            ("web-signed-in", customer_id, WHEN, WHEN),
        )
        attempt = (
            "INSERT INTO sign_in_attempts (identifier_key, client_key, conversation_id, "
            "channel, outcome, customer_id) VALUES ('k-ident', 'k-client', %s, 'slack', %s, %s)"
        )
        cur.execute(attempt, ("slack:D1:U1", "success", customer_id))
        # A failure names nobody: its conversation is not the customer's to erase.
        cur.execute(attempt, ("stranger-guessing", "failure", None))
        for sender in ("rest:by-token", "web-signed-in", "slack:D1:U1", "stranger-guessing"):
            cur.execute(
                "INSERT INTO events (sender_id, data) VALUES (%s, %s)",
                (sender, json.dumps({"event": "user", "text": "it's me"})),
            )


IDENTITY_CONVERSATIONS = ("rest:by-token", "web-signed-in", "slack:D1:U1")


def test_erasure_finds_conversations_through_proofs_and_sign_ins(
    db: Database, servers: Servers, redis_client: redis.Redis
) -> None:
    seed_everything(db, "cust-x2", "conv-x2")
    seed_identity(db, "cust-x2")
    store = ConversationStore(servers.redis_url, key_prefix="privacyidentity")
    for conversation in (*IDENTITY_CONVERSATIONS, "stranger-guessing"):
        redis_client.set(store.key(conversation), "{}")

    report = erase_customer(db, "cust-x2", store)

    assert report.conversations == 2 + len(IDENTITY_CONVERSATIONS)
    assert report.redis_keys_deleted == len(IDENTITY_CONVERSATIONS)
    assert report.event_rows_deleted == 2 + len(IDENTITY_CONVERSATIONS)
    assert report.rows_deleted["identity_proofs"] == 2
    assert report.rows_deleted["sign_in_attempts"] == 1
    for conversation in IDENTITY_CONVERSATIONS:
        assert redis_client.exists(store.key(conversation)) == 0, conversation
    assert redis_client.exists(store.key("stranger-guessing")) == 1
    with db.cursor() as cur:
        cur.execute("SELECT sender_id FROM events ORDER BY sender_id")
        assert [r["sender_id"] for r in cur.fetchall()] == ["someone-else", "stranger-guessing"]
        cur.execute("SELECT count(*) AS n FROM identity_proofs")
        assert cur.fetchone()["n"] == 0
        cur.execute("SELECT conversation_id, customer_id FROM sign_in_attempts")
        assert [dict(r) for r in cur.fetchall()] == [
            {"conversation_id": "stranger-guessing", "customer_id": None}
        ]


def test_export_includes_how_the_customer_was_identified(db: Database) -> None:
    seed_everything(db, "cust-e2", "conv-e2")
    seed_identity(db, "cust-e2")
    exported = json.dumps(export_customer(db, "cust-e2"))
    for conversation in IDENTITY_CONVERSATIONS:
        assert conversation in exported, conversation


def test_the_chat_summary_reads_as_the_full_export_does(db: Database) -> None:
    from personalization.privacy import readable_export, readable_summary, summarise_customer

    seed_everything(db, "cust-s1", "conv-s1")
    full = readable_export(export_customer(db, "cust-s1"))
    assert readable_summary(summarise_customer(db, "cust-s1")) == full
    assert "Orders: 1, £50.00 in total, the last on 2011-11-05" in full
    with pytest.raises(PrivacyError):
        summarise_customer(db, "cust-nobody")
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM consent_audit WHERE action = 'export'")
        assert cur.fetchone()["n"] == 2, "each summary is audited as an export"
