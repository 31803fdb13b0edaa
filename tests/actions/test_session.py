from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet

from actions import personalization_client
from actions.session import ActionSessionStart
from personalization.support.bandit import STYLES
from tests.actions.conftest import load_tracker, run_action


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.mark.usefixtures("store_with_demo_shop")
def test_a_vip_is_welcomed_back_by_name_and_told_about_her_parcel(domain: dict[str, Any]) -> None:
    result = run_action(
        ActionSessionStart(), load_tracker("session_start_sender_is_customer"), domain
    )
    messages, events = result.messages, result.events
    assert messages[0] == {
        **messages[0],
        "response": "utter_welcome_back_vip_casual",
        "customer_name": "Alice",
    }
    assert messages[1]["response"] == "utter_open_order_on_its_way"
    assert messages[1]["order_id"].startswith("DEMO-0001-")
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


@pytest.mark.usefixtures("store_with_demo_shop")
def test_each_persona_gets_the_greeting_of_their_tier_and_tone(domain: dict[str, Any]) -> None:
    from rasa_sdk import Tracker

    expected = {
        "cust-0002": "utter_welcome_back_lapsed_formal",  # Bruno: gone quiet, formal
        "cust-0003": "utter_welcome_back_new_casual",  # Chloé: first order last week
    }
    for customer, response in expected.items():
        tracker = Tracker.from_dict(
            {
                **load_tracker("session_start_sender_is_customer").current_state(),
                "sender_id": customer,
            }
        )
        messages = run_action(ActionSessionStart(), tracker, domain).messages
        assert messages[0]["response"] == response, customer
        assert response in domain["responses"]


@pytest.mark.usefixtures("store_with_demo_shop")
def test_an_opted_out_customer_is_greeted_like_any_visitor(
    domain: dict[str, Any], store_with_demo_shop
) -> None:
    from personalization.privacy import set_personalization

    set_personalization(store_with_demo_shop, "cust-0001", False, source="test")
    result = run_action(
        ActionSessionStart(), load_tracker("session_start_sender_is_customer"), domain
    )
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    slots = slots_set(result.events)
    assert slots["personalization_allowed"] is False and slots["customer_id"] == "cust-0001"
    assert slots["customer_name"] is None and slots["customer_tier"] is None


@pytest.mark.usefixtures("store_with_demo_customers")
def test_customer_id_from_session_metadata_wins_over_sender_id(domain: dict[str, Any]) -> None:
    result = run_action(
        ActionSessionStart(), load_tracker("session_start_customer_in_metadata"), domain
    )
    messages, events = result.messages, result.events
    assert messages[0]["response"].startswith("utter_welcome_back_")
    assert messages[0]["customer_name"] == "Bruno"
    assert slots_set(events)["customer_id"] == "cust-0002"


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
        result = run_action(
            ActionSessionStart(), load_tracker("session_start_sender_is_customer"), domain
        )
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    assert slots_set(result.events)["customer_known"] is False
    assert "profile lookup failed (StoreUnavailable)" in caplog.text
    assert "Alice" not in caplog.text


def test_database_that_never_answers_is_cut_off_by_the_io_timeout(
    domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A listening socket that never accepts: TCP connects, PostgreSQL never speaks.
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(1)
        port = black_hole.getsockname()[1]
        monkeypatch.setenv("DATABASE_URL", f"postgresql://shop@127.0.0.1:{port}/shop")
        monkeypatch.setenv("DB_CONNECT_TIMEOUT_S", "10")
        monkeypatch.setenv("ACTION_IO_TIMEOUT_S", "0.5")
        personalization_client.reset()
        with caplog.at_level(logging.WARNING, logger="actions.personalization_client"):
            result = run_action(
                ActionSessionStart(), load_tracker("session_start_sender_is_customer"), domain
            )
    personalization_client.reset()
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    assert result.seconds < 2, f"the action waited {result.seconds:.1f}s for a silent database"
    assert "timed out" in caplog.text


def test_known_customer_without_a_name_is_recognised_but_greeted_generically(
    domain: dict[str, Any], store_with_demo_customers: Any
) -> None:
    from personalization.store.customers import Customer, CustomerRepository

    CustomerRepository(store_with_demo_customers).upsert(Customer("cust-0001", None))
    result = run_action(
        ActionSessionStart(), load_tracker("session_start_sender_is_customer"), domain
    )
    assert [m["response"] for m in result.messages] == ["utter_welcome"]
    slots = slots_set(result.events)
    assert (slots["customer_id"], slots["customer_name"]) == ("cust-0001", None)
    assert slots["customer_known"] is True and slots["customer_tier"] == "prospect"
