from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet

from actions import personalization_client
from actions.conversation import PROOF_SLOT
from actions.session import PROFILE_SLOTS, ActionSessionStart
from personalization.auth.proof import IdentityProof
from personalization.demo_data import demo_order_id
from personalization.store import Database
from personalization.support.bandit import STYLES
from tests.actions.conftest import fetch, load_tracker, run_action, tracker_data

# A REST caller whose request carried a valid token for cust-0001 (Alice).
WITH_TOKEN = "session_start_customer_with_token"
# A REST caller without a token whose sender id (and an unsigned metadata key) say cust-0001.
SENDER_ID_ONLY = "session_start_sender_id_is_not_an_identity"


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def with_token_for(customer: str) -> Tracker:
    """The token fixture, with the channel having verified another customer's token."""
    data = tracker_data(WITH_TOKEN)
    data["slots"]["session_started_metadata"]["identity"]["customer_id"] = customer
    return Tracker.from_dict(data)


def proofs(db: Database) -> list[dict[str, Any]]:
    return fetch(
        db,
        "SELECT conversation_id, customer_id, channel, method, "
        "extract(epoch FROM verified_at)::float AS verified_at, "
        "extract(epoch FROM expires_at)::float AS expires_at FROM identity_proofs ORDER BY id",
    )


@pytest.mark.usefixtures("store_with_demo_shop")
def test_a_vip_is_welcomed_back_by_name_and_told_about_her_parcel(domain: dict[str, Any]) -> None:
    result = run_action(ActionSessionStart(), load_tracker(WITH_TOKEN), domain)
    messages, events = result.messages, result.events
    assert messages[0] == {
        **messages[0],
        "response": "utter_welcome_back_vip_casual",
        "customer_name": "Alice",
    }
    assert messages[1]["response"] == "utter_open_order_on_its_way"
    assert messages[1]["order_id"] == demo_order_id("cust-0001", 14), "her latest order"
    assert events[0] == SessionStarted()
    assert events[-1] == ActionExecuted("action_listen")
    slots = slots_set(events)
    assert {k: slots[k] for k in ("customer_id", "customer_name", "customer_known")} == {
        "customer_id": "cust-0001",
        "customer_name": "Alice",
        "customer_known": True,
    }
    assert (slots["customer_segment"], slots["customer_tier"]) == ("Champions", "vip")
    assert slots["personalization_allowed"] is True and slots["preferred_tone"] == "casual"
    assert slots["open_orders"][0]["status"] == "shipped"
    for name in slots:
        assert name in domain["slots"], f"{name} must be declared in the domain"


def test_the_token_becomes_the_proof_of_the_conversation_and_a_row_in_the_store(
    domain: dict[str, Any], store_with_demo_shop: Database
) -> None:
    result = run_action(ActionSessionStart(), load_tracker(WITH_TOKEN), domain)
    proof = IdentityProof.from_slot(slots_set(result.events)[PROOF_SLOT])
    assert proof is not None
    assert (proof.customer_id, proof.channel, proof.method) == ("cust-0001", "rest", "token")
    assert proof.client == "9cb36a06217fa6c50fda8ea6fdf19101", "bound to the caller's key"
    assert proof.verified_at == 1732377600.0
    assert proof.expires_at == proof.verified_at + 2 * 3600, "the default IDENTITY_PROOF_TTL_S"
    assert proofs(store_with_demo_shop) == [
        {
            "conversation_id": "rest:me",
            "customer_id": "cust-0001",
            "channel": "rest",
            "method": "token",
            "verified_at": proof.verified_at,
            "expires_at": proof.expires_at,
        }
    ]


def test_the_proof_lasts_the_configured_time(
    domain: dict[str, Any], store_with_demo_shop: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_PROOF_TTL_S", "600")
    result = run_action(ActionSessionStart(), load_tracker(WITH_TOKEN), domain)
    proof = slots_set(result.events)[PROOF_SLOT]
    assert proof["expires_at"] - proof["verified_at"] == 600
    [row] = proofs(store_with_demo_shop)
    assert row["expires_at"] - row["verified_at"] == 600


def test_a_sender_id_that_looks_like_a_customer_is_an_anonymous_visitor(
    domain: dict[str, Any], store_with_demo_shop: Database
) -> None:
    result = run_action(ActionSessionStart(), load_tracker(SENDER_ID_ONLY), domain)
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    assert "customer_name" not in result.messages[0]
    slots = slots_set(result.events)
    assert slots["customer_known"] is False
    assert slots["customer_id"] is None and slots[PROOF_SLOT] is None
    assert slots["open_orders"] is None
    assert proofs(store_with_demo_shop) == [], "nothing was proven, nothing is recorded"


@pytest.mark.usefixtures("store_with_demo_shop")
def test_an_identity_block_with_an_unknown_method_proves_nothing(domain: dict[str, Any]) -> None:
    data = tracker_data(WITH_TOKEN)
    data["slots"]["session_started_metadata"]["identity"]["method"] = "sender_id"
    result = run_action(ActionSessionStart(), Tracker.from_dict(data), domain)
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    assert slots_set(result.events)[PROOF_SLOT] is None


@pytest.mark.usefixtures("store_with_demo_shop")
def test_each_persona_gets_the_greeting_of_their_tier_and_tone(domain: dict[str, Any]) -> None:
    expected = {
        "cust-0002": "utter_welcome_back_lapsed_formal",  # Bruno: gone quiet, formal
        "cust-0003": "utter_welcome_back_new_casual",  # Chloé: first order last week
    }
    for customer, response in expected.items():
        messages = run_action(ActionSessionStart(), with_token_for(customer), domain).messages
        assert messages[0]["response"] == response, customer
        assert response in domain["responses"]


@pytest.mark.usefixtures("store_with_demo_shop")
def test_an_opted_out_customer_is_greeted_like_any_visitor(
    domain: dict[str, Any], store_with_demo_shop: Database
) -> None:
    from personalization.privacy import set_personalization

    set_personalization(store_with_demo_shop, "cust-0001", False, source="test")
    result = run_action(ActionSessionStart(), load_tracker(WITH_TOKEN), domain)
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    slots = slots_set(result.events)
    assert slots["personalization_allowed"] is False and slots["customer_id"] == "cust-0001"
    assert slots["customer_name"] is None and slots["customer_tier"] is None
    assert slots[PROOF_SLOT]["customer_id"] == "cust-0001", "still proven: data rights work"
    assert "response_style" not in slots, "no style learnt from someone who opted out"


@pytest.mark.usefixtures("store_with_demo_customers")
def test_the_customer_the_web_channel_verified_is_recognised(domain: dict[str, Any]) -> None:
    result = run_action(
        ActionSessionStart(), load_tracker("session_start_customer_in_metadata"), domain
    )
    messages, events = result.messages, result.events
    assert messages[0]["response"].startswith("utter_welcome_back_")
    assert messages[0]["customer_name"] == "Bruno"
    slots = slots_set(events)
    assert slots["customer_id"] == "cust-0002"
    assert (slots[PROOF_SLOT]["channel"], slots[PROOF_SLOT]["method"]) == ("web", "token")


def test_in_a_shared_slack_channel_no_order_is_mentioned(
    domain: dict[str, Any], store_with_demo_shop: Database
) -> None:
    private = run_action(ActionSessionStart(), load_tracker(WITH_TOKEN), domain)
    [order_id] = [m["order_id"] for m in private.messages if "order_id" in m]

    result = run_action(
        ActionSessionStart(), load_tracker("session_start_in_shared_slack_channel"), domain
    )
    assert [m["response"] for m in result.messages] == ["utter_welcome_back_vip_casual"]
    assert order_id not in repr(result.messages), "others in the channel would read it"
    slots = slots_set(result.events)
    assert (slots[PROOF_SLOT]["channel"], slots[PROOF_SLOT]["method"]) == ("slack", "slack_email")
    assert proofs(store_with_demo_shop)[-1]["channel"] == "slack"


@pytest.mark.usefixtures("store_with_demo_customers")
def test_anonymous_visitor_gets_the_generic_welcome(domain: dict[str, Any]) -> None:
    result = run_action(
        ActionSessionStart(), load_tracker("session_start_anonymous_visitor"), domain
    )
    messages, events = result.messages, result.events
    assert [m["response"] for m in messages] == ["utter_welcome"]
    assert "customer_name" not in messages[0]
    slots = slots_set(events)
    assert slots["customer_known"] is False
    assert slots["response_style"] in STYLES, "visitors' styles are learnt too"
    personal = set(slots) - {"customer_known", "response_style"}
    assert all(slots[name] is None for name in personal)


@pytest.mark.usefixtures("store_with_demo_customers")
def test_new_session_refreshes_the_profile_and_carries_other_slots(
    domain: dict[str, Any],
) -> None:
    result = run_action(
        ActionSessionStart(), load_tracker("session_restart_with_earlier_slots"), domain
    )
    events = result.events
    slots = slots_set(events)
    assert slots["customer_name"] == "Chloé", "the stale name is replaced from the store"
    assert slots["preferred_topic"] == "returns"
    assert events.index(SlotSet("preferred_topic", "returns")) < events.index(
        SlotSet("customer_name", "Chloé")
    )
    assert slots[PROOF_SLOT]["verified_at"] == 1732377600.0, "the new session's own proof"


@pytest.mark.usefixtures("store_with_demo_customers")
def test_a_new_session_without_proof_forgets_who_the_last_one_was_with(
    domain: dict[str, Any],
) -> None:
    data = tracker_data("session_restart_with_earlier_slots")
    data["slots"]["session_started_metadata"] = None
    result = run_action(ActionSessionStart(), Tracker.from_dict(data), domain)
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    slots = slots_set(result.events)
    stale = [name for name in PROFILE_SLOTS if name not in ("response_style", "customer_known")]
    assert {name: slots[name] for name in stale} == dict.fromkeys(stale)
    assert slots["customer_known"] is False
    assert slots["preferred_topic"] == "returns", "what is not about identity carries over"


@pytest.mark.usefixtures("store_with_demo_customers")
def test_slots_are_not_carried_over_when_the_domain_says_so(domain: dict[str, Any]) -> None:
    no_carry = {**domain, "session_config": {"carry_over_slots_to_new_session": False}}
    result = run_action(
        ActionSessionStart(), load_tracker("session_restart_with_earlier_slots"), no_carry
    )
    events = result.events
    assert "preferred_topic" not in slots_set(events)


@pytest.mark.usefixtures("store_down")
def test_database_down_degrades_to_generic_welcome_and_warns(
    domain: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="actions.personalization_client"):
        result = run_action(ActionSessionStart(), load_tracker(WITH_TOKEN), domain)
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    slots = slots_set(result.events)
    assert slots["customer_known"] is False and slots[PROOF_SLOT] is None
    assert "profile lookup failed (StoreUnavailable)" in caplog.text
    assert "Alice" not in caplog.text


def test_database_that_never_answers_is_given_up_on_inside_the_deadline(
    domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The connect timeout is shorter than the action deadline: each store call ends by
    itself before the deadline, so no worker thread is left waiting on a silent database."""
    # A listening socket that never accepts: TCP connects, PostgreSQL never speaks.
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(1)
        port = black_hole.getsockname()[1]
        monkeypatch.setenv("DATABASE_URL", f"postgresql://shop@127.0.0.1:{port}/shop")
        monkeypatch.delenv("DB_CONNECT_TIMEOUT_S", raising=False)
        monkeypatch.setenv("ACTION_IO_TIMEOUT_S", "2.5")
        personalization_client.reset()
        with caplog.at_level(logging.WARNING, logger="actions.personalization_client"):
            result = run_action(ActionSessionStart(), load_tracker(WITH_TOKEN), domain)
    personalization_client.reset()
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    # Two store calls (profile, then the style for a visitor), each ended by the 2 s connect
    # timeout rather than by the 2.5 s deadline.
    assert result.seconds < 2 * 2.5, f"the action waited {result.seconds:.1f}s"
    assert "profile lookup failed (StoreUnavailable)" in caplog.text
    assert "timed out" not in caplog.text


def test_inner_timeouts_longer_than_the_deadline_are_refused_clearly(
    domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@127.0.0.1:1/shop")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_S", "10")
    personalization_client.reset()
    with caplog.at_level(logging.ERROR, logger="actions.personalization_client"):
        result = run_action(ActionSessionStart(), load_tracker(WITH_TOKEN), domain)
    personalization_client.reset()
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    assert "DB_CONNECT_TIMEOUT_S" in caplog.text and "ACTION_IO_TIMEOUT_S" in caplog.text


def test_known_customer_without_a_name_is_recognised_but_greeted_generically(
    domain: dict[str, Any], store_with_demo_customers: Any
) -> None:
    from personalization.store.customers import Customer, CustomerRepository

    CustomerRepository(store_with_demo_customers).upsert(Customer("cust-0001", None))
    result = run_action(ActionSessionStart(), load_tracker(WITH_TOKEN), domain)
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    slots = slots_set(result.events)
    assert (slots["customer_id"], slots["customer_name"]) == ("cust-0001", None)
    assert slots["customer_known"] is True and slots["customer_tier"] == "prospect"


@pytest.mark.usefixtures("store_with_demo_customers")
def test_a_token_for_a_customer_the_shop_does_not_know_proves_nothing_here(
    domain: dict[str, Any], store_with_demo_customers: Database
) -> None:
    result = run_action(ActionSessionStart(), with_token_for("cust-9999"), domain)
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    assert slots_set(result.events)[PROOF_SLOT] is None
    assert proofs(store_with_demo_customers) == []
