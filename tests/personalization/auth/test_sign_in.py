"""The in-chat sign-in against a real PostgreSQL: counted across conversations, locked, audited."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg2
import pytest

from personalization.auth.proof import opaque
from personalization.auth.sign_in import (
    Outcome,
    SignInGuard,
    SignInResult,
    record_proof,
    sign_in_identifier_key,
)
from personalization.demo_data import (
    demo_customers,
    demo_order_id,
    load_demo_customers,
    load_demo_shop,
)
from personalization.privacy import erase_customer
from personalization.settings import DatabaseSettings, SignInSettings
from personalization.store import Database, StoreUnavailable
from personalization.store.customers import CustomerRepository

KEY = b"pseudonym-key-for-sign-in-tests-0123456789"


def alices_order(number: int) -> str:
    """cust-0001's ``number``-th order number; past 14 it has her prefix but no order."""
    return demo_order_id("cust-0001", number)


def right_order() -> str:
    """Alice's latest order: the one she signs in with."""
    return alices_order(14)


def rows(db: Database, query: str, *params: Any) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute(query, params)
        return [dict(r) for r in cur.fetchall()]


def attempts(db: Database) -> list[dict[str, Any]]:
    return rows(db, "SELECT * FROM sign_in_attempts ORDER BY id")


def client(n: int | str) -> str:
    """A client key as the channels make it: a keyed hash of an address."""
    return opaque(KEY, f"address:198.51.100.{n}")


@pytest.fixture
def shop(db: Database) -> Database:
    load_demo_customers(CustomerRepository(db))
    load_demo_shop(db, demo_customers())
    return db


@pytest.fixture
def email(shop: Database) -> str:
    found = rows(shop, "SELECT email FROM customers WHERE id = 'cust-0001'")
    assert found and "@" in found[0]["email"]
    assert rows(
        shop, "SELECT 1 FROM orders WHERE id = %s AND customer_id = 'cust-0001'", right_order()
    ), "the demo shop gives cust-0001 this order"
    return found[0]["email"].lower()


def guard(db: Database, **limits: int) -> SignInGuard:
    settings = SignInSettings(
        **{"max_failures_per_identifier": 5, "max_failures_per_client": 20, **limits}
    )
    return SignInGuard(db, settings, KEY)


def attempt(
    sign_in: SignInGuard,
    identifier: str,
    order: str | None,
    who: str | None = None,
    conversation: str = "web:conversation",
    channel: str = "web",
) -> SignInResult:
    return sign_in.attempt(identifier, order, who or client(1), conversation, channel)


# --- outcomes ----------------------------------------------------------------------------


def test_the_right_email_and_order_sign_in_and_are_audited(shop: Database, email: str) -> None:
    result = attempt(guard(shop), email, right_order(), conversation="web:abc", channel="web")
    assert result == SignInResult(Outcome.SUCCESS, "cust-0001")
    [row] = attempts(shop)
    assert row["outcome"] == "success"
    assert row["customer_id"] == "cust-0001"
    assert row["conversation_id"] == "web:abc"
    assert row["channel"] == "web"
    assert row["client_key"] == client(1)
    assert row["identifier_key"] == opaque(KEY, "sign-in:cust-0001")  # counted per customer
    assert row["attempted_at"] is not None


def test_a_customer_number_and_a_loosely_typed_order_sign_in_too(shop: Database) -> None:
    typed = right_order().lower().replace("-", " ")  # "demo 1234 14"
    result = attempt(guard(shop), "cust-0001", typed)
    assert result == SignInResult(Outcome.SUCCESS, "cust-0001")


def test_the_customer_number_does_not_give_the_order_number_away(shop: Database) -> None:
    """Order numbers used to be DEMO-<customer number>-NN: anyone could sign in as anyone."""
    sign_in = guard(shop)
    for n, customer in enumerate(("cust-0001", "cust-0002", "cust-0004", "cust-0007")):
        assert rows(shop, "SELECT 1 FROM orders WHERE customer_id = %s", customer)
        guessed = f"DEMO-{customer[-4:]}-01"
        result = attempt(sign_in, customer, guessed, who=client(n))
        assert result == SignInResult(Outcome.FAILURE, None), guessed


def test_an_unknown_email_fails(shop: Database) -> None:
    result = attempt(guard(shop), "nobody@example.com", right_order())
    assert result == SignInResult(Outcome.FAILURE, None)
    [row] = attempts(shop)
    assert row["outcome"] == "failure" and row["customer_id"] is None


def test_a_wrong_order_fails(shop: Database, email: str) -> None:
    sign_in = guard(shop)
    someone_elses = rows(shop, "SELECT id FROM orders WHERE customer_id = 'cust-0002' LIMIT 1")
    assert someone_elses
    for order in (someone_elses[0]["id"], alices_order(99), "not an order", None, ""):
        assert attempt(sign_in, email, order) == SignInResult(Outcome.FAILURE, None)
    assert [r["outcome"] for r in attempts(shop)] == ["failure"] * 5
    assert all(r["customer_id"] is None for r in attempts(shop))


def test_unknown_identifiers_and_wrong_orders_look_the_same(shop: Database, email: str) -> None:
    sign_in = guard(shop)
    unknown = attempt(sign_in, "nobody@example.com", right_order(), who=client(1))
    wrong = attempt(sign_in, email, alices_order(99), who=client(2))
    assert unknown == wrong == SignInResult(Outcome.FAILURE, None)


# --- limits ------------------------------------------------------------------------------


def test_failures_across_conversations_and_clients_lock_the_identifier(
    shop: Database, email: str
) -> None:
    sign_in = guard(shop, max_failures_per_identifier=5)
    for n in range(5):
        result = attempt(sign_in, email, alices_order(90 + n), who=client(n), conversation=f"c{n}")
        assert result.outcome is Outcome.FAILURE
    # A new conversation from a new client with the right order is refused all the same.
    locked = attempt(sign_in, email, right_order(), who=client(99), conversation="fresh")
    assert locked == SignInResult(Outcome.LOCKED, None)
    # The identifier's case changes nothing.
    assert attempt(sign_in, email.upper(), right_order(), who=client(98)).outcome is Outcome.LOCKED
    outcomes = [(r["outcome"], r["customer_id"]) for r in attempts(shop)]
    assert outcomes == [("failure", None)] * 5 + [("locked", None)] * 2


def test_a_lock_on_one_identifier_leaves_others_alone(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=3)
    for n in range(3):
        attempt(sign_in, email, alices_order(99), who=client(n))
    assert attempt(sign_in, email, right_order(), who=client(50)).outcome is Outcome.LOCKED
    other = rows(shop, "SELECT id FROM orders WHERE customer_id = 'cust-0002' LIMIT 1")[0]["id"]
    result = attempt(sign_in, "bruno.keller@example.com", other, who=client(51))
    assert result == SignInResult(Outcome.SUCCESS, "cust-0002")


def test_a_client_trying_many_identifiers_is_locked(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=100, max_failures_per_client=4)
    guesser = client(7)
    for n in range(4):
        result = attempt(sign_in, f"guess{n}@example.com", right_order(), who=guesser)
        assert result.outcome is Outcome.FAILURE
    # Even the right answer, for an identifier this client never got wrong, is refused.
    assert attempt(sign_in, email, right_order(), who=guesser) == SignInResult(Outcome.LOCKED)
    # Another client is not affected.
    assert attempt(sign_in, email, right_order(), who=client(8)).outcome is Outcome.SUCCESS


def test_successes_do_not_count_towards_a_lock(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=2, max_failures_per_client=2)
    for _ in range(5):
        assert attempt(sign_in, email, right_order()).outcome is Outcome.SUCCESS
    assert attempt(sign_in, email, alices_order(99)).outcome is Outcome.FAILURE
    assert attempt(sign_in, email, right_order()).outcome is Outcome.SUCCESS


def test_parallel_guesses_cannot_overrun_the_limit(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=5, max_failures_per_client=1000)
    guesses = [alices_order(50 + n) for n in range(24)]

    def guess(n: int) -> Outcome:
        return attempt(sign_in, email, guesses[n], who=client(n)).outcome

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(guess, range(24)))
    assert outcomes.count(Outcome.FAILURE) == 5
    assert outcomes.count(Outcome.LOCKED) == 19


def test_an_attempt_needs_only_one_connection(
    shop: Database, database_url: str, email: str
) -> None:
    single = Database(DatabaseSettings(url=database_url, pool_min=1, pool_max=1))
    try:
        result = attempt(guard(single), email, right_order())
    finally:
        single.close()
    assert result == SignInResult(Outcome.SUCCESS, "cust-0001")


# --- the window --------------------------------------------------------------------------


def lock(sign_in: SignInGuard, email: str, failures: int) -> None:
    for n in range(failures):
        attempt(sign_in, email, alices_order(99), who=client(n))
    assert attempt(sign_in, email, right_order(), who=client(200)).outcome is Outcome.LOCKED


def test_a_right_answer_gets_through_once_the_window_has_passed(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=3)
    lock(sign_in, email, 3)
    with shop.cursor() as cur:
        cur.execute("UPDATE sign_in_attempts SET attempted_at = now() - interval '16 minutes'")
    assert attempt(sign_in, email, right_order()) == SignInResult(Outcome.SUCCESS, "cust-0001")


def test_the_window_is_the_configured_one(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=2, lockout_s=1)
    lock(sign_in, email, 2)
    time.sleep(1.2)
    assert attempt(sign_in, email, right_order()) == SignInResult(Outcome.SUCCESS, "cust-0001")


def test_attempts_inside_the_window_still_count(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=3)
    lock(sign_in, email, 3)
    with shop.cursor() as cur:
        cur.execute("UPDATE sign_in_attempts SET attempted_at = now() - interval '14 minutes'")
    assert attempt(sign_in, email, right_order()).outcome is Outcome.LOCKED


def test_only_failures_inside_the_window_count(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=3)
    for n in range(3):
        attempt(sign_in, email, alices_order(99), who=client(n))
    with shop.cursor() as cur:
        cur.execute("UPDATE sign_in_attempts SET attempted_at = now() - interval '1 hour'")
    for n in range(2):
        assert attempt(sign_in, email, alices_order(98), who=client(n)).outcome is Outcome.FAILURE
    assert attempt(sign_in, email, right_order()).outcome is Outcome.SUCCESS


# --- the audit ---------------------------------------------------------------------------


def test_no_audit_row_holds_the_email(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=2, max_failures_per_client=100)
    attempt(sign_in, email, right_order(), who=client(1))
    attempt(sign_in, email.upper(), alices_order(99), who=client(2))
    attempt(sign_in, "bruno.keller@example.com", alices_order(99), who=client(3))
    attempt(sign_in, "nobody@example.com", None, who=client(4))
    attempt(sign_in, email, alices_order(98), who=client(5))
    attempt(sign_in, email, right_order(), who=client(6))  # locked by now
    outcomes = {r["outcome"] for r in attempts(shop)}
    assert outcomes == {"success", "failure", "locked"}

    text_columns = [
        r["column_name"]
        for r in rows(
            shop,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'sign_in_attempts' AND data_type = 'text'",
        )
    ]
    assert {"identifier_key", "client_key", "conversation_id", "channel"} <= set(text_columns)
    secrets = [
        email,
        email.split("@")[0],
        "bruno.keller",
        "nobody",
        "example.com",
        "198.51.100",
        right_order(),
    ]
    for row in attempts(shop):
        for column in text_columns:
            value = (row[column] or "").lower()
            for secret in secrets:
                assert secret.lower() not in value, f"{column} holds {secret!r}"


def test_identifier_keys_depend_on_the_secret_key(shop: Database, email: str) -> None:
    attempt(SignInGuard(shop, SignInSettings(), KEY), email, alices_order(99))
    attempt(SignInGuard(shop, SignInSettings(), b"another-key" * 4), email, alices_order(99))
    first, second = (r["identifier_key"] for r in attempts(shop))
    assert first != second


# --- proofs and erasure ------------------------------------------------------------------


def test_record_proof_keeps_the_proof_beside_the_conversation(shop: Database) -> None:
    now = time.time()
    record_proof(shop, "web:conv-1", "cust-0001", "web", "sign_in", now, now + 7200)
    [row] = rows(
        shop,
        "SELECT conversation_id, customer_id, channel, method, "
        "extract(epoch FROM verified_at)::float AS verified, "
        "extract(epoch FROM expires_at)::float AS expires FROM identity_proofs",
    )
    assert (row["conversation_id"], row["customer_id"], row["channel"], row["method"]) == (
        "web:conv-1",
        "cust-0001",
        "web",
        "sign_in",
    )
    assert row["verified"] == pytest.approx(now, abs=0.01)
    assert row["expires"] == pytest.approx(now + 7200, abs=0.01)


def test_record_proof_of_an_unknown_customer_stores_nothing(shop: Database) -> None:
    record_proof(shop, "web:conv-1", "cust-9999", "web", "token", time.time(), time.time() + 60)
    assert rows(shop, "SELECT * FROM identity_proofs") == []


def test_erasure_removes_proofs_and_successful_sign_ins(shop: Database, email: str) -> None:
    now = time.time()
    sign_in = guard(shop)
    attempt(sign_in, email, alices_order(99), conversation="web:conv-1")
    attempt(sign_in, email, right_order(), conversation="web:conv-1")
    record_proof(shop, "web:conv-1", "cust-0001", "web", "sign_in", now, now + 7200)
    record_proof(shop, "rest:only-a-proof", "cust-0001", "rest", "token", now, now + 900)
    record_proof(shop, "web:someone-else", "cust-0002", "web", "token", now, now + 900)
    # Rasa's event rows (the migrations create its table), found only through the proof's
    # conversation id.
    with shop.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS events (id serial PRIMARY KEY, sender_id text)")
        cur.execute("INSERT INTO events (sender_id) VALUES ('rest:only-a-proof'), ('web:other')")

    report = erase_customer(shop, "cust-0001")

    assert report.rows_deleted["identity_proofs"] == 2
    assert report.rows_deleted["sign_in_attempts"] == 1
    assert rows(shop, "SELECT customer_id FROM identity_proofs") == [{"customer_id": "cust-0002"}]
    remaining = attempts(shop)
    assert [r["outcome"] for r in remaining] == ["failure"]
    assert all(r["customer_id"] is None for r in remaining)
    assert rows(shop, "SELECT sender_id FROM events") == [{"sender_id": "web:other"}]
    assert report.event_rows_deleted == 1


def test_an_email_and_a_customer_number_share_one_budget(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=4, max_failures_per_client=1000)
    for n in range(2):
        assert attempt(sign_in, email, alices_order(99), who=client(n)).outcome is Outcome.FAILURE
        assert (
            attempt(sign_in, "cust-0001", alices_order(98), who=client(10 + n)).outcome
            is Outcome.FAILURE
        )
    assert attempt(sign_in, "cust-0001", right_order(), who=client(99)).outcome is Outcome.LOCKED


def test_refused_attempts_do_not_extend_a_lock_out(shop: Database, email: str) -> None:
    sign_in = guard(shop, max_failures_per_identifier=2, max_failures_per_client=1000)
    lock(sign_in, email, 2)
    for n in range(5):
        assert attempt(sign_in, email, right_order(), who=client(300 + n)).outcome is Outcome.LOCKED
    with shop.cursor() as cur:  # the failures age out of the window; the refusals do not count
        cur.execute(
            "UPDATE sign_in_attempts SET attempted_at = now() - interval '1 hour' "
            "WHERE outcome = 'failure'"
        )
    assert attempt(sign_in, email, right_order(), who=client(400)).outcome is Outcome.SUCCESS


def test_erasure_with_the_identity_key_removes_failed_sign_ins_too(
    shop: Database, email: str
) -> None:
    sign_in = guard(shop)
    attempt(sign_in, email, alices_order(99), conversation="web:conv-1")
    attempt(sign_in, "cust-0001", alices_order(98), conversation="rest:conv-2")
    attempt(sign_in, "nobody@example.org", alices_order(97), conversation="rest:conv-3")

    report = erase_customer(shop, "cust-0001", sign_in_key=KEY)

    assert report.rows_deleted["sign_in_attempts"] == 2
    [left] = attempts(shop)
    assert left["conversation_id"] == "rest:conv-3", "a stranger's attempt is not hers"


def test_an_outage_is_never_a_failed_attempt(shop: Database, email: str) -> None:
    """Four failures, then the store is unreachable three times: the customer still has the
    fifth try, and nothing was recorded for the outage."""
    sign_in = guard(shop)
    for _ in range(4):
        assert attempt(sign_in, email, alices_order(99)).outcome is Outcome.FAILURE
    closed_port = Database(
        DatabaseSettings(url="postgresql://shop@127.0.0.1:1/shop", connect_timeout_s=2)
    )
    for _ in range(3):
        with pytest.raises(StoreUnavailable):
            attempt(guard(closed_port), email, alices_order(99))
    assert attempt(sign_in, email, right_order()).outcome is Outcome.SUCCESS
    assert [r["outcome"] for r in attempts(shop)] == ["failure"] * 4 + ["success"]


def test_a_store_too_slow_to_answer_records_no_attempt(shop: Database, email: str) -> None:
    """A statement timeout mid-attempt rolls the whole attempt back, its audit row too."""
    slow = Database(DatabaseSettings(url=shop.settings.url, statement_timeout_ms=300))
    holder = psycopg2.connect(shop.settings.url)
    try:
        with holder.cursor() as cur:  # another attempt on the same customer, stuck
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (sign_in_identifier_key(KEY, "cust-0001"),),
            )
        with pytest.raises(StoreUnavailable):
            attempt(guard(slow), email, right_order())
    finally:
        holder.rollback()
        holder.close()
        slow.close()
    assert attempts(shop) == []
    assert attempt(guard(shop), email, right_order()).outcome is Outcome.SUCCESS
