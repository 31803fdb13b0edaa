"""Who an action serves is proven, never claimed: by the conversation's proof, for this client,
while it lasts; personal data only where the reply reaches the customer alone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import personalization_client
from actions.conversation import (
    PROOF_SLOT,
    known_customer,
    personal_customer,
    personalization_allowed,
    private_customer,
)
from actions.feedback import ActionRecordCsat
from actions.identify import ActionIdentifyCustomer
from actions.mood import ActionValidateSlotMappings
from actions.orders import ActionOrderStatus
from actions.privacy import ActionExportData
from actions.recommendations import ActionRecommendProducts
from actions.returns import ActionSubmitReturn
from actions.yes_no import ActionAnswerYesNo
from personalization.auth.proof import IdentityProof
from personalization.demo_data import demo_order_id
from personalization.store import Database
from tests.actions.conftest import (
    OTHER_ADDRESS,
    fetch,
    journey_tracker,
    responses,
    run_action,
    slot_events,
)

pytestmark = pytest.mark.usefixtures("store_with_demo_shop")

# The keyed hashes of the fixture's REST caller (tests/fixtures/trackers/journey_*.json).
CLIENT = "9cb36a06217fa6c50fda8ea6fdf19101"
ADDRESS = "39993222943cc95f358f3aff6aa9013d"


def exports(db: Database) -> int:
    [row] = fetch(db, "SELECT count(*) AS n FROM consent_audit WHERE action = 'export'")
    return row["n"]


def an_order(db: Database, customer_id: str, status: str = "shipped") -> str:
    [row] = fetch(
        db,
        "SELECT id FROM orders WHERE customer_id = %s AND status = %s "
        "ORDER BY ordered_at DESC LIMIT 1",
        customer_id,
        status,
    )
    return row["id"]


@pytest.mark.parametrize(
    ("who", "channel", "known", "private"),
    [
        ("customer", "rest", "cust-0001", "cust-0001"),
        ("customer", "socketio", "cust-0001", "cust-0001"),
        ("customer", "slack", "cust-0001", "cust-0001"),  # a direct message
        ("signed_in", "rest", "cust-0001", "cust-0001"),
        ("anonymous", "rest", None, None),
        ("other_client", "rest", None, None),
        ("other_client", "socketio", None, None),
        ("expired", "rest", None, None),
        ("expired", "socketio", None, None),
        ("without_token", "rest", None, None),
        ("shared", "slack", "cust-0001", None),
    ],
)
def test_who_the_conversation_is_with(
    who: str, channel: str, known: str | None, private: str | None
) -> None:
    tracker = journey_tracker(channel=channel, who=who)
    assert tracker.get_slot("customer_id") == "cust-0001", "the slots claim Alice every time"
    assert known_customer(tracker) == known
    assert private_customer(tracker) == private


def test_a_web_token_proof_holds_for_later_messages_of_the_same_session() -> None:
    """Unlike REST, the web chat shows its token once; its session key is the client."""
    tracker = journey_tracker(channel="socketio", who="without_token")
    assert known_customer(tracker) == "cust-0001"


def test_customer_slots_without_a_proof_are_an_anonymous_visitor(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker("what do you know about me?", "ask_my_data", who="anonymous")
    assert tracker.get_slot("customer_known") is True
    export = run_action(ActionExportData(), tracker, domain)
    assert responses(export) == ["utter_identify_first"]
    assert export.messages[0]["buttons"][0]["payload"] == "/identify"
    order = an_order(store_with_demo_shop, "cust-0001")
    status = run_action(
        ActionOrderStatus(), journey_tracker(who="anonymous", order_number=order), domain
    )
    assert responses(status) == ["utter_identify_first"]
    assert order not in repr(status.messages)
    assert exports(store_with_demo_shop) == 0


def test_a_forged_proof_slot_proves_nothing(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    forged = {"customer_id": "cust-0001", "channel": "rest", "method": "claimed", "client": CLIENT}
    tracker = journey_tracker("my data", "ask_my_data", who="anonymous", identity_proof=forged)
    assert responses(run_action(ActionExportData(), tracker, domain)) == ["utter_identify_first"]
    assert exports(store_with_demo_shop) == 0


def test_a_sign_in_proof_holds_for_its_own_client_only(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    same = run_action(
        ActionExportData(), journey_tracker("my data", "ask_my_data", who="signed_in"), domain
    )
    assert responses(same) == ["utter_export"]
    assert "Name: Alice" in same.messages[0]["summary"]
    other = run_action(
        ActionExportData(), journey_tracker("my data", "ask_my_data", who="other_client"), domain
    )
    assert responses(other) == ["utter_identify_first"]
    assert "summary" not in other.messages[0]
    assert exports(store_with_demo_shop) == 1, "only the proven caller's export"


def test_an_expired_proof_does_not_hold(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    result = run_action(
        ActionExportData(), journey_tracker("my data", "ask_my_data", who="expired"), domain
    )
    assert responses(result) == ["utter_identify_first"]
    assert exports(store_with_demo_shop) == 0


def test_a_rest_token_proof_needs_the_token_on_every_message(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    """A REST caller's client key is only its address, which others may share."""
    order = an_order(store_with_demo_shop, "cust-0001")
    result = run_action(
        ActionOrderStatus(), journey_tracker(who="without_token", order_number=order), domain
    )
    assert responses(result) == ["utter_identify_first"]


def test_in_a_shared_slack_channel_personal_data_waits_for_a_direct_message(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    order = an_order(store_with_demo_shop, "cust-0001")
    shared = dict(channel="slack", who="shared")
    export = run_action(
        ActionExportData(), journey_tracker("my data", "ask_my_data", **shared), domain
    )
    assert responses(export) == ["utter_continue_in_direct_message"]
    status = run_action(ActionOrderStatus(), journey_tracker(order_number=order, **shared), domain)
    assert responses(status) == ["utter_continue_in_direct_message"]
    assert slot_events(status)["order_number"] is None
    returned = run_action(
        ActionSubmitReturn(), journey_tracker(order_number=order, **shared), domain
    )
    assert responses(returned) == ["utter_continue_in_direct_message"]
    erase = run_action(
        ActionAnswerYesNo(),
        journey_tracker("yes", "affirm", pending_question="erase", **shared),
        domain,
    )
    assert responses(erase) == ["utter_continue_in_direct_message"]
    for result in (export, status, returned, erase):
        assert order not in repr(result.messages) and "Alice" not in repr(result.messages)
    assert exports(store_with_demo_shop) == 0
    assert fetch(store_with_demo_shop, "SELECT id FROM customers WHERE id = 'cust-0001'")
    assert fetch(store_with_demo_shop, "SELECT count(*) AS n FROM return_requests") == [{"n": 0}]

    direct = run_action(
        ActionExportData(), journey_tracker("my data", "ask_my_data", channel="slack"), domain
    )
    assert responses(direct) == ["utter_export"], "the same customer in a direct message"


def sign_in(identity: str, order: str, sender_id: str = "conv-journey", **tracker: Any) -> Tracker:
    """The identify form's last turn, filled by a visitor (``who="anonymous"`` unless given)."""
    return journey_tracker(
        order,
        "inform",
        sender_id=sender_id,
        identity=identity,
        verification_order=order,
        customer_id=None,
        customer_known=False,
        **({"who": "anonymous"} | tracker),
    )


def attempts(db: Database) -> list[dict[str, Any]]:
    return fetch(
        db,
        "SELECT identifier_key, client_key, conversation_id, channel, outcome, customer_id "
        "FROM sign_in_attempts ORDER BY id",
    )


def test_a_sign_in_proves_the_customer_for_this_client_and_is_audited(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    [dev] = fetch(store_with_demo_shop, "SELECT email FROM customers WHERE id = 'cust-0004'")
    order = an_order(store_with_demo_shop, "cust-0004", "delivered")
    result = run_action(ActionIdentifyCustomer(), sign_in(dev["email"], order), domain)
    assert responses(result)[0].startswith("utter_welcome_back_")
    slots = slot_events(result)
    assert (slots["identity"], slots["verification_order"]) == (None, None)
    proof = IdentityProof.from_slot(slots[PROOF_SLOT])
    assert proof is not None
    assert (proof.customer_id, proof.channel, proof.method) == ("cust-0004", "rest", "sign_in")
    assert proof.client == CLIENT and proof.expires_at - proof.verified_at == 2 * 3600
    [attempt] = attempts(store_with_demo_shop)
    assert re.fullmatch(r"[0-9a-f]{32}", attempt.pop("identifier_key")), "a keyed hash"
    assert attempt == {
        "client_key": ADDRESS,
        "conversation_id": "conv-journey",
        "channel": "rest",
        "outcome": "success",
        "customer_id": "cust-0004",
    }
    assert dev["email"] not in repr(attempts(store_with_demo_shop)), "no email in the clear"
    assert fetch(
        store_with_demo_shop,
        "SELECT conversation_id, customer_id, channel, method FROM identity_proofs",
    ) == [
        {
            "conversation_id": "conv-journey",
            "customer_id": "cust-0004",
            "channel": "rest",
            "method": "sign_in",
        }
    ]

    later = dict(identity_proof=slots[PROOF_SLOT], customer_id=None)
    mine = run_action(
        ActionExportData(),
        journey_tracker("my data", "ask_my_data", who="anonymous", **later),
        domain,
    )
    assert responses(mine) == ["utter_export"]
    assert "Name: Dev" in mine.messages[0]["summary"]
    theirs = run_action(
        ActionExportData(),
        journey_tracker("my data", "ask_my_data", who="other_client", **later),
        domain,
    )
    assert responses(theirs) == ["utter_identify_first"], "another caller guessing the id"


def test_five_failures_across_conversations_lock_the_identifier(
    store_with_demo_shop: Database, domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PER_IDENTIFIER", "PER_CLIENT"):
        monkeypatch.delenv(f"SIGN_IN_MAX_FAILURES_{name}", raising=False)
    monkeypatch.delenv("SIGN_IN_LOCKOUT_S", raising=False)
    [dev] = fetch(store_with_demo_shop, "SELECT email FROM customers WHERE id = 'cust-0004'")
    right = an_order(store_with_demo_shop, "cust-0004", "delivered")
    guess = an_order(store_with_demo_shop, "cust-0001")  # a real order, someone else's
    for n in range(1, 6):
        failed = run_action(
            ActionIdentifyCustomer(), sign_in(dev["email"], guess, f"conv-guess-{n}"), domain
        )
        assert responses(failed) == ["utter_identify_failed"], n
    locked = run_action(
        ActionIdentifyCustomer(), sign_in(dev["email"], right, "conv-guess-6"), domain
    )
    assert responses(locked) == ["utter_identify_locked"]
    assert PROOF_SLOT not in slot_events(locked)
    # Another address and conversation buy no new tries either: the identifier is locked.
    elsewhere = run_action(
        ActionIdentifyCustomer(),
        sign_in(dev["email"], right, "conv-guess-7", who="other_client", identity_proof=None),
        domain,
    )
    assert responses(elsewhere) == ["utter_identify_locked"]
    rows = attempts(store_with_demo_shop)
    assert [(r["conversation_id"], r["outcome"]) for r in rows] == [
        *((f"conv-guess-{n}", "failure") for n in range(1, 6)),
        ("conv-guess-6", "locked"),
        ("conv-guess-7", "locked"),
    ]
    assert [r["client_key"] for r in rows] == [ADDRESS] * 6 + [OTHER_ADDRESS]
    assert {r["customer_id"] for r in rows} == {None}
    assert len({r["identifier_key"] for r in rows}) == 1
    assert fetch(store_with_demo_shop, "SELECT count(*) AS n FROM identity_proofs") == [{"n": 0}]

    [bruno] = fetch(store_with_demo_shop, "SELECT email FROM customers WHERE id = 'cust-0002'")
    other = run_action(
        ActionIdentifyCustomer(),
        sign_in(bruno["email"], an_order(store_with_demo_shop, "cust-0002", "delivered")),
        domain,
    )
    assert slot_events(other)[PROOF_SLOT]["customer_id"] == "cust-0002", "others are not locked"


def test_already_proven_customers_are_not_asked_again(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    result = run_action(
        ActionIdentifyCustomer(),
        journey_tracker(
            identity="someone@example.com", verification_order=demo_order_id("cust-0002", 1)
        ),
        domain,
    )
    assert responses(result) == ["utter_already_identified"]
    assert attempts(store_with_demo_shop) == []


UNKNOWN_CONSENT = dict(personalization_allowed=None)


def test_unknown_consent_is_no_consent() -> None:
    tracker = journey_tracker(**UNKNOWN_CONSENT)
    assert known_customer(tracker) == "cust-0001"
    assert not personalization_allowed(tracker)
    assert personal_customer(tracker) is None


def test_unknown_consent_records_nothing_personal(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    def interactions() -> list[dict[str, Any]]:
        return fetch(
            store_with_demo_shop,
            "SELECT count(*) AS n FROM interactions WHERE customer_id = 'cust-0001'",
        )

    before = interactions()
    shown = run_action(
        ActionRecommendProducts(),
        journey_tracker("gift ideas?", "ask_recommendation", **UNKNOWN_CONSENT),
        domain,
    )
    assert responses(shown) == ["utter_recommendations_popular"]
    csat = run_action(
        ActionRecordCsat(),
        journey_tracker(
            "4",
            "rate",
            entities=[{"entity": "csat", "value": "4"}],
            pending_question="csat",
            **UNKNOWN_CONSENT,
        ),
        domain,
    )
    assert responses(csat) == ["utter_csat_thanks"]
    upset = journey_tracker("this is awful", "complain", **UNKNOWN_CONSENT)
    upset.latest_message["sentiment"] = {"score": -0.8, "label": "negative"}
    mood = run_action(ActionValidateSlotMappings(), upset, domain)
    assert "mood" not in slot_events(mood)
    assert interactions() == before, "no recommendation_shown for Alice"
    assert fetch(store_with_demo_shop, "SELECT customer_id, value FROM feedback") == [
        {"customer_id": None, "value": 4}
    ], "the rating counts, anonymously"
    assert fetch(store_with_demo_shop, "SELECT count(*) AS n FROM message_sentiment") == [{"n": 0}]


@pytest.mark.parametrize("who", ["expired", "other_client"])
def test_a_proof_that_no_longer_holds_takes_the_profile_with_it(
    domain: dict[str, Any], who: str
) -> None:
    tracker = journey_tracker("bye", "goodbye", who=who)
    assert tracker.get_slot("customer_name") == "Alice", "the fixture still carries her profile"
    slots = slot_events(run_action(ActionValidateSlotMappings(), tracker, domain))
    assert slots["identity_proof"] is None
    assert slots["customer_known"] is False
    assert slots["customer_name"] is None and slots["customer_tier"] is None


def test_a_proof_that_holds_leaves_the_profile_alone(domain: dict[str, Any]) -> None:
    slots = slot_events(run_action(ActionValidateSlotMappings(), journey_tracker(), domain))
    assert "identity_proof" not in slots and "customer_name" not in slots


def test_a_store_outage_during_sign_in_costs_no_try(
    store_with_demo_shop: Database, domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four wrong answers, then PostgreSQL is unreachable (a closed port) for ten attempts:
    each is told to try again in a minute, none is counted, and the right answer then gets in."""
    for name in ("PER_IDENTIFIER", "PER_CLIENT"):
        monkeypatch.delenv(f"SIGN_IN_MAX_FAILURES_{name}", raising=False)
    [dev] = fetch(store_with_demo_shop, "SELECT email FROM customers WHERE id = 'cust-0004'")
    right = an_order(store_with_demo_shop, "cust-0004", "delivered")
    guess = an_order(store_with_demo_shop, "cust-0001")
    for n in range(4):
        failed = run_action(ActionIdentifyCustomer(), sign_in(dev["email"], guess), domain)
        assert responses(failed) == ["utter_identify_failed"], n
    real_store = store_with_demo_shop.settings.url
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@127.0.0.1:1/shop")
    personalization_client.reset()
    for n in range(10):
        down = run_action(ActionIdentifyCustomer(), sign_in(dev["email"], guess), domain)
        assert responses(down) == ["utter_identify_unavailable"], n
        assert PROOF_SLOT not in slot_events(down)
    monkeypatch.setenv("DATABASE_URL", real_store)
    personalization_client.reset()
    assert [r["outcome"] for r in attempts(store_with_demo_shop)] == ["failure"] * 4
    back = run_action(ActionIdentifyCustomer(), sign_in(dev["email"], right), domain)
    assert responses(back)[0] != "utter_identify_locked"
    assert slot_events(back)["customer_id"] == "cust-0004"
