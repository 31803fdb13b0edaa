"""Helpers for action tests: trackers from JSON fixtures, the real domain, a real database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import personalization_client
from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.segments import Segmenter
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from tests.conftest import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "trackers"


def load_tracker(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((FIXTURES / f"{name}.json").read_text()))


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


@dataclass
class ActionResult:
    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]
    seconds: float


def run_action(action: Action, tracker: Tracker, domain: dict[str, Any]) -> ActionResult:
    """Run an action as the SDK would, timing the action itself.

    The time is taken inside the event loop: `asyncio.run` also waits for abandoned worker
    threads on exit, which the long-lived action server never does.
    """
    dispatcher = CollectingDispatcher()

    async def timed() -> tuple[list[dict[str, Any]], float]:
        started = time.monotonic()
        events = await action.run(dispatcher, tracker, domain)
        return events, time.monotonic() - started

    events, seconds = asyncio.run(timed())
    return ActionResult(dispatcher.messages, events, seconds)


@pytest.fixture
def store_with_demo_customers(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    """Point the action server's client at a fresh database holding the demo customers."""
    load_demo_customers(CustomerRepository(db))
    monkeypatch.setenv("DATABASE_URL", database_url)
    personalization_client.reset()
    yield db
    personalization_client.reset()


@pytest.fixture
def store_with_demo_shop(store_with_demo_customers: Database) -> Database:
    """The demo customers with their orders and segments."""
    load_demo_shop(store_with_demo_customers, demo_customers())
    Segmenter(store_with_demo_customers).run()
    return store_with_demo_customers


@pytest.fixture
def store_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A database URL where nothing listens."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@127.0.0.1:1/shop")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_S", "2")
    personalization_client.reset()
    yield
    personalization_client.reset()


def journey_tracker(
    text: str = "hello",
    intent: str = "greet",
    entities: list[dict[str, Any]] | None = None,
    sender_id: str = "conv-journey",
    channel: str = "rest",
    **slots: Any,
) -> Tracker:
    """The mid-conversation fixture, with the latest message and slots a test needs."""
    data = json.loads((FIXTURES / "journey_customer_mid_conversation.json").read_text())
    data["sender_id"] = sender_id
    data["slots"].update(slots)
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.95},
        "entities": entities or [],
    }
    data["latest_message"] = message
    data["events"].append(
        {
            "event": "user",
            "timestamp": 1732377610.0,
            "text": text,
            "parse_data": message,
            "input_channel": channel,
        }
    )
    return Tracker.from_dict(data)


def responses(result: ActionResult) -> list[str]:
    return [m.get("response") for m in result.messages]


def slot_events(result: ActionResult) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in result.events if e.get("event") == "slot"}


def fetch(db: Database, query: str, *params: Any) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute(query, params)
        return [dict(r) for r in cur.fetchall()]
