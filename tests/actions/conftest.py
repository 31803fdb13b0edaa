"""Helpers for action tests: trackers from JSON fixtures, the real domain, a real database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import personalization_client
from actions.conversation import PROOF_SLOT
from personalization.auth.proof import IdentityProof, MessageIdentity
from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.segments import Segmenter
from personalization.store import Database
from personalization.store.customers import CustomerRepository
from tests.conftest import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "trackers"


def tracker_data(name: str) -> dict[str, Any]:
    """A fixture as the dict Rasa sends the action server, to adjust before building."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def load_tracker(name: str) -> Tracker:
    return Tracker.from_dict(tracker_data(name))


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


# Who sends the latest message of a journey tracker, and what the conversation proved before:
#   customer      the fixture's proof; the message shows the channel's own proof (a token,
#                 Slack's verified email), as every message from a signed-in page does
#   signed_in     an in-chat sign-in proof; the message comes from the same client, no token
#   anonymous     no proof at all (whatever the customer_* slots claim)
#   other_client  a sign-in proof, but the message comes from another client
#   expired       a sign-in proof that expired a minute ago; the same client
#   without_token a REST token proof; the message comes from the same address, no token
#   shared        a Slack customer writing in a shared channel (the block is not private)
WHO = (
    "customer",
    "signed_in",
    "anonymous",
    "other_client",
    "expired",
    "without_token",
    "shared",
)
# Rasa's input channel names, and the channel names the identity block uses.
IDENTITY_CHANNELS = {"rest": "rest", "socketio": "web", "slack": "slack"}
VOUCHED_BY = {"rest": "token", "web": "token", "slack": "slack_email"}
# The keyed hashes another REST caller's address gets (see channels/identity.py).
OTHER_CLIENT = "ffb9b608644056aa8b3c60b047a821da"
OTHER_ADDRESS = "de9cdc7018f774c869dec7e066ac9bee"


def fixture_identity(data: dict[str, Any]) -> tuple[IdentityProof, MessageIdentity]:
    """The proof and the first message's identity block of the journey fixture, checked."""
    proof = IdentityProof.from_slot(data["slots"][PROOF_SLOT])
    assert proof is not None, "the fixture's identity_proof slot must stay a valid proof"
    first = next(e for e in data["events"] if e["event"] == "user")
    message = MessageIdentity.from_metadata(first.get("metadata"))
    assert message is not None, "the fixture's user event must carry an identity block"
    assert proof.holds_for(message, now=proof.verified_at), "the fixture's proof must hold"
    return proof, message


def identity_of(
    who: str, channel: str, customer: str, data: dict[str, Any]
) -> tuple[IdentityProof | None, MessageIdentity]:
    """The conversation's proof and the latest message's identity block for ``who``."""
    if who not in WHO:
        raise ValueError(f"who must be one of {WHO}, not {who!r}")
    if who == "shared" and channel != "slack":
        raise ValueError("only a Slack channel is shared with other people")
    fixture_proof, fixture_message = fixture_identity(data)
    now = time.time()
    method = VOUCHED_BY[channel]
    proof = replace(fixture_proof, customer_id=customer, channel=channel, method=method)
    plain = MessageIdentity(channel=channel, client=proof.client, address=fixture_message.address)
    vouched = replace(
        plain,
        private=who != "shared",
        customer_id=customer,
        method=method,
        verified_at=now,
        expires_at=now + 900,
    )
    signed_in = replace(proof, method="sign_in", verified_at=now - 60)
    cases: dict[str, tuple[IdentityProof | None, MessageIdentity]] = {
        "customer": (proof, vouched),
        "shared": (proof, vouched),
        "signed_in": (signed_in, plain),
        "anonymous": (None, plain),
        "other_client": (signed_in, replace(plain, client=OTHER_CLIENT, address=OTHER_ADDRESS)),
        "expired": (replace(signed_in, verified_at=now - 7300, expires_at=now - 60), plain),
        "without_token": (proof, plain),
    }
    return cases[who]


def journey_tracker(
    text: str = "hello",
    intent: str = "greet",
    entities: list[dict[str, Any]] | None = None,
    sender_id: str = "conv-journey",
    channel: str = "rest",
    who: str = "customer",
    customer: str = "cust-0001",
    **slots: Any,
) -> Tracker:
    """The mid-conversation fixture, with the latest message and slots a test needs.

    ``who`` (see WHO) sets the ``identity_proof`` slot and the identity block the channel
    wrote on the latest message; ``customer`` is whom the proof is for. Slots given by name
    win, ``identity_proof`` included.
    """
    data = tracker_data("journey_customer_mid_conversation")
    proof, message = identity_of(who, IDENTITY_CHANNELS[channel], customer, data)
    data["sender_id"] = sender_id
    data["slots"][PROOF_SLOT] = proof.as_slot() if proof else None
    data["slots"].update(slots)
    parsed = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.95},
        "entities": entities or [],
    }
    data["latest_message"] = parsed
    data["events"].append(
        {
            "event": "user",
            "timestamp": 1732377610.0,
            "text": text,
            "parse_data": parsed,
            "input_channel": channel,
            "metadata": {"identity": message.as_metadata()},
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
