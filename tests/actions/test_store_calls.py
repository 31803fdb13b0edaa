"""`personalization_client.run` against a real PostgreSQL: the three outcomes, and work that
outlives the action deadline cancelled rather than committed behind the customer's back."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actions import personalization_client
from actions.outcome import Outcome, Status
from personalization.metrics import STORE_CALLS
from personalization.privacy import PrivacyError
from personalization.settings import ConfigurationError, DatabaseSettings
from personalization.store.db import Database

DEADLINE_S = 1.0


@pytest.fixture
def slow_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A database whose own statement timeout is long, so only the deadline can stop work."""
    monkeypatch.setenv("ACTION_IO_TIMEOUT_S", str(DEADLINE_S))
    database = Database(DatabaseSettings(url=database_url, statement_timeout_ms=30_000))
    with database.cursor() as cur:
        cur.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
    yield database
    database.close()


def notes(db: Database) -> list[str]:
    with db.cursor() as cur:
        cur.execute("SELECT body FROM notes ORDER BY id")
        return [r["body"] for r in cur.fetchall()]


def run(operation: str, work: Callable[[], Any]) -> Outcome[Any]:
    return asyncio.run(personalization_client.run(operation, work))


class Tracked:
    """Work run in the worker thread, whose end the test can wait for."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._work = work
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self.seconds = 0.0

    def __call__(self) -> Any:
        started = time.monotonic()
        try:
            return self._work()
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.seconds = time.monotonic() - started
            self.ended.set()


def test_a_statement_past_the_deadline_is_interrupted_and_nothing_commits(
    slow_db: Database,
) -> None:
    def insert_then_stall() -> str:
        with slow_db.cursor() as cur:
            cur.execute("INSERT INTO notes (body) VALUES ('written after the deadline')")
            cur.execute("SELECT pg_sleep(10)")
        return "done"

    work = Tracked(insert_then_stall)
    started = time.monotonic()
    outcome = run("slow write", work)
    assert outcome.status is Status.UNAVAILABLE and outcome.reason == "timed out"
    assert time.monotonic() - started < DEADLINE_S + 0.5
    assert work.ended.wait(5), "the interrupted statement should end the work at once"
    assert work.seconds < 5, f"pg_sleep(10) ran {work.seconds:.1f}s: it was not interrupted"
    assert notes(slow_db) == []


def test_work_that_wakes_after_the_deadline_rolls_back_instead_of_committing(
    slow_db: Database,
) -> None:
    def insert_then_think() -> str:
        with slow_db.cursor() as cur:
            cur.execute("INSERT INTO notes (body) VALUES ('written after the deadline')")
            time.sleep(DEADLINE_S + 0.5)  # no statement running: nothing to interrupt
        return "done"

    work = Tracked(insert_then_think)
    assert run("slow write", work).status is Status.UNAVAILABLE
    assert work.ended.wait(5)
    assert type(work.error).__name__ == "WorkCancelled"
    assert notes(slow_db) == []


def test_work_that_committed_before_the_deadline_is_reported_as_done(slow_db: Database) -> None:
    """Told "unavailable", the customer would try again and do it twice: the truth is told."""

    def commit_then_finish_late() -> str:
        with slow_db.cursor() as cur:
            cur.execute("INSERT INTO notes (body) VALUES ('committed in time')")
        time.sleep(DEADLINE_S + 0.3)  # finishes within the grace given to committed work
        return "done"

    outcome = run("write", commit_then_finish_late)
    assert outcome == Outcome.success("done")
    assert notes(slow_db) == ["committed in time"]


def test_work_inside_the_deadline_commits(slow_db: Database) -> None:
    def insert() -> int:
        with slow_db.cursor() as cur:
            cur.execute("INSERT INTO notes (body) VALUES ('hello') RETURNING id")
            return cur.fetchone()["id"]

    assert run("write", insert) == Outcome.success(1)
    assert notes(slow_db) == ["hello"]


def test_an_error_rolls_back_and_the_outcome_says_unavailable(slow_db: Database) -> None:
    def insert_then_fail() -> None:
        with slow_db.cursor() as cur:
            cur.execute("INSERT INTO notes (body) VALUES ('half done')")
            cur.execute("SELECT * FROM no_such_table")

    outcome = run("broken write", insert_then_fail)
    assert outcome.status is Status.UNAVAILABLE and outcome.reason == "UndefinedTable"
    assert notes(slow_db) == []


def test_the_store_saying_no_is_refused_not_unavailable() -> None:
    def refuse() -> None:
        raise PrivacyError("personalization is off for this customer")

    assert run("export", refuse).status is Status.REFUSED


def test_a_misconfiguration_is_unavailable_and_says_which_setting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def misconfigured() -> None:
        raise ConfigurationError("DATABASE_URL is not set")

    with caplog.at_level(logging.ERROR, logger="actions.personalization_client"):
        outcome = run("lookup", misconfigured)
    assert outcome == Outcome.unavailable("ConfigurationError")
    assert "DATABASE_URL is not set" in caplog.text


def test_an_unexpected_error_is_unavailable_and_logged_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def crash() -> None:
        raise KeyError("alice@example.com")

    with caplog.at_level(logging.DEBUG, logger="actions.personalization_client"):
        outcome = run("lookup", crash)
    assert outcome == Outcome.unavailable("KeyError")
    assert "failed unexpectedly (KeyError at test_store_calls.py:" in caplog.text
    assert "alice@example.com" not in caplog.text


def test_every_call_is_counted_by_outcome() -> None:
    def counted(status: str) -> float:
        return STORE_CALLS.labels(operation="counted call", outcome=status)._value.get()

    before = {s: counted(s) for s in ("ok", "refused", "unavailable")}
    run("counted call", lambda: 1)
    run("counted call", lambda: (_ for _ in ()).throw(PrivacyError("no")))
    run("counted call", lambda: (_ for _ in ()).throw(ConnectionError()))
    assert {s: counted(s) - before[s] for s in before} == {
        "ok": 1,
        "refused": 1,
        "unavailable": 1,
    }


def test_an_inner_timeout_not_under_the_deadline_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@127.0.0.1:1/shop")
    monkeypatch.setenv("ACTION_IO_TIMEOUT_S", "2.5")
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "5000")
    personalization_client.reset()
    with pytest.raises(ConfigurationError, match="DB_STATEMENT_TIMEOUT_MS is 5 s"):
        personalization_client.database()
    monkeypatch.delenv("DB_STATEMENT_TIMEOUT_MS")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("REDIS_SOCKET_TIMEOUT_S", "3")
    with pytest.raises(ConfigurationError, match="REDIS_SOCKET_TIMEOUT_S"):
        personalization_client.recommendation_cache()
    personalization_client.reset()


def test_the_default_inner_timeouts_fit_inside_the_default_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ACTION_IO_TIMEOUT_S", "DB_CONNECT_TIMEOUT_S", "DB_STATEMENT_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("REDIS_SOCKET_TIMEOUT_S", "REDIS_CONNECT_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@127.0.0.1:1/shop")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    personalization_client.reset()
    try:
        settings = personalization_client.database().settings
        assert settings.effective_connect_timeout_s < 2.5
        assert settings.statement_timeout_ms < 2500
        cache = personalization_client.recommendation_cache()
        assert cache is not None
        kwargs = cache.client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] < 2.5 and kwargs["socket_connect_timeout"] < 2.5
    finally:
        personalization_client.reset()
