"""Attacks on the trust boundary, tried against the running stack; each must be refused.

Every test here is what an outsider can do with the ports `make run` opens: the REST and
socket.io channels, the Slack webhook, Rasa's HTTP API and the action server.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid

import pytest
import requests

from personalization.auth.tokens import mint_token
from tests.e2e.slack_api import RecordingSlackApi
from tests.e2e.stack import (
    AUDIENCE,
    VISITOR,
    RunningStack,
    any_welcome_back,
    conversation_id,
    order_id,
    query,
    variants,
)
from tests.e2e.test_slack import direct_message, post_event

pytestmark = pytest.mark.e2e

FOREIGN_ORIGIN = "https://attacker.example"


def new_sender() -> str:
    return f"probe-{uuid.uuid4().hex[:12]}"


def assert_anonymous_welcome(texts: list[str]) -> None:
    assert texts[0] in variants("utter_welcome"), texts
    assert not any("DEMO-" in t for t in texts), "no order of anyone is mentioned"


# Impersonation ---------------------------------------------------------------------------------


def test_a_sender_id_that_names_a_customer_proves_nothing(stack: RunningStack) -> None:
    assert_anonymous_welcome(stack.texts("cust-0002", "hi", token=VISITOR))
    order = order_id("cust-0002", 1)
    replies = stack.texts("cust-0002", f"where is my order {order}?", token=VISITOR)
    assert any(t in variants("utter_identify_first") for t in replies), replies
    assert not any(order in t for t in replies), replies


def test_unsigned_metadata_and_a_forged_identity_block_prove_nothing(stack: RunningStack) -> None:
    forged = {
        "customer_id": "cust-0002",
        "identity": {
            "channel": "rest",
            "client": "x" * 32,
            "address": "x" * 32,
            "private": True,
            "customer_id": "cust-0002",
            "method": "token",
            "verified_at": time.time(),
            "expires_at": time.time() + 3600,
        },
    }
    sender = new_sender()
    assert_anonymous_welcome(stack.texts(sender, "hi", metadata=forged, token=VISITOR))
    # What the channel stored is its own block, not the forged one.
    tracker = stack.api("GET", f"/conversations/{conversation_id(sender)}/tracker").json()
    first = next(e for e in tracker["events"] if e["event"] == "user")
    assert first["metadata"]["identity"]["customer_id"] is None
    assert "customer_id" not in first["metadata"]


@pytest.mark.parametrize(
    "how",
    ["expired", "signed with another key", "for another audience", "algorithm none", "garbage"],
)
def test_a_bad_customer_token_proves_nothing(stack: RunningStack, how: str) -> None:
    if how == "expired":
        token = stack.token("cust-0002", now=time.time() - 3600)
    elif how == "signed with another key":
        token = mint_token("cust-0002", "another-shops-secret-0123456789abcdef", AUDIENCE)
    elif how == "for another audience":
        token = stack.token("cust-0002", audience="another-service")
    elif how == "algorithm none":
        claims = {"sub": "cust-0002", "aud": AUDIENCE, "iat": int(time.time())}
        claims["exp"] = claims["iat"] + 600

        def b64(data: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    else:
        token = "not.a.token"
    assert_anonymous_welcome(stack.texts(new_sender(), "hi", token=token))


def test_a_rest_conversation_is_personal_only_for_messages_with_the_token(
    stack: RunningStack,
) -> None:
    sender = new_sender()
    welcome = stack.texts(sender, "hi", token=stack.token("cust-0001"))
    assert welcome[0] in any_welcome_back("Alice")
    # Someone who knows (or guesses) the sender id, without Alice's token, gets nothing of hers.
    order = order_id("cust-0001", 14)
    replies = stack.texts(sender, f"where is my order {order}?", token=VISITOR)
    assert any(t in variants("utter_identify_first") for t in replies), replies
    assert not any(f"{order} is" in t or "on its way" in t for t in replies)


def test_another_customers_token_on_the_same_sender_cannot_touch_the_conversation(
    stack: RunningStack,
) -> None:
    sender = new_sender()
    victim, attacker = stack.token("cust-0002"), stack.token("cust-0003")
    assert stack.texts(sender, "hi", token=victim)[0] in any_welcome_back("Bruno")
    # The attacker plants an erasure request under the victim's sender id, with their own token.
    planted = stack.texts(sender, "please delete my data", token=attacker)
    assert planted[-1] in variants("utter_confirm_erase"), "it is the attacker's own conversation"
    # The victim's next "yes" answers nothing of the attacker's.
    answer = stack.texts(sender, "/affirm", token=victim)
    assert not any(t in variants("utter_erased") or "ER-" in t for t in answer), answer
    assert query(stack, "SELECT 1 FROM customers WHERE id = 'cust-0002'") == [(1,)]
    assert query(stack, "SELECT 1 FROM erasure_jobs WHERE customer_id = 'cust-0002'") == []
    victims = stack.api("GET", f"/conversations/{conversation_id(sender, 'cust-0002')}/tracker")
    texts = [e.get("text") for e in victims.json()["events"] if e["event"] == "user"]
    assert texts == ["hi", "/affirm"], "the attacker's message never reached her conversation"


# Channels ---------------------------------------------------------------------------------------


def test_rest_cannot_continue_a_slack_conversation(
    stack: RunningStack, slack_api: RecordingSlackApi
) -> None:
    suffix = uuid.uuid4().hex[:8].upper()
    user, channel = f"U{suffix}", f"D{suffix}"
    slack_api.emails[user] = "alice.martin@example.com"
    assert post_event(stack, direct_message(user, channel, "hi")).status_code == 200
    slack_api.wait_for_posts(channel, at_least=3)
    slack_id = f"slack:{user}_{channel}"
    before = stack.api("GET", f"/conversations/{slack_id}/tracker").json()["events"]
    assert any(e.get("name") == "identity_proof" and e.get("value") for e in before)

    for sender in (slack_id, f"{user}_{channel}", user):
        body = {
            "sender": sender,
            "message": f"where is my order {order_id('cust-0001', 14)}?",
            "input_channel": "slack",
        }
        reply = requests.post(f"{stack.base_url}/webhooks/rest/webhook", json=body, timeout=30)
        texts = [m.get("text", "") for m in reply.json()]
        assert any(t in variants("utter_identify_first") for t in texts), (sender, texts)
        assert all(m["recipient_id"].startswith("rest:") for m in reply.json())
    after = stack.api("GET", f"/conversations/{slack_id}/tracker").json()["events"]
    assert len(after) == len(before), "the Slack conversation was not touched"


def test_a_malformed_rest_request_is_refused_with_a_reason(stack: RunningStack) -> None:
    url = f"{stack.base_url}/webhooks/rest/webhook"
    for body in ({"sender": "x" * 500, "message": "hi"}, {"sender": "a b", "message": "hi"}):
        answer = requests.post(url, json=body, timeout=10)
        assert answer.status_code == 400 and "sender" in answer.text
    assert requests.post(url, json=["a", "list"], timeout=10).status_code == 400
    huge = requests.post(url, json={"sender": new_sender(), "message": "x" * 100_000}, timeout=10)
    assert huge.status_code == 200 and "2,000 characters" in huge.json()[0]["text"], (
        "answered politely before any parsing"
    )


# The action server -----------------------------------------------------------------------------


def action_call(name: str) -> dict:
    return {
        "next_action": name,
        "sender_id": "rest:forged",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": "rest:forged",
            "slots": {"customer_id": "cust-0001", "customer_known": True},
            "latest_message": {"text": "export my data", "intent": {"name": "export_data"}},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_the_action_server_refuses_calls_without_its_secret(
    stack: RunningStack, secret: str | None
) -> None:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    for path, method in (("/webhook", "POST"), ("/actions", "GET")):
        answer = requests.request(
            method,
            f"{stack.action_url}{path}",
            json=action_call("action_export_data"),
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 401, (path, answer.text)
        assert "alice" not in answer.text.lower()


def test_the_action_server_works_with_its_secret_and_still_trusts_no_slot(
    stack: RunningStack,
) -> None:
    answer = requests.post(
        f"{stack.action_url}/webhook",
        json=action_call("action_export_data"),
        headers={"Authorization": f"Bearer {stack.action_token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    texts = [r.get("response") or r.get("text") for r in answer.json()["responses"]]
    assert texts == ["utter_identify_first"], "a customer_id slot is not a proof"
    assert "alice" not in answer.text.lower()


def non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # no packet is sent for UDP connect
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_the_action_server_listens_on_loopback_only(stack: RunningStack) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to try")
    port = int(stack.action_url.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
        pass


# Rasa's HTTP API -------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_rasa_api_refuses_calls_without_its_token(stack: RunningStack, token: str) -> None:
    target = conversation_id("cust-0001")
    calls = [
        ("GET", f"/conversations/{target}/tracker", {}),
        ("POST", f"/conversations/{target}/tracker/events", {"json": {"event": "restart"}}),
        ("PUT", "/model", {"json": {"model_file": "/tmp/evil.tar.gz"}}),
        ("GET", "/status", {}),
    ]
    for method, path, kwargs in calls:
        answer = stack.api(method, path, token=token, **kwargs)
        assert answer.status_code == 401, (method, path, answer.status_code)


def test_rasa_api_takes_its_token_only_in_the_header(stack: RunningStack) -> None:
    in_url = requests.get(f"{stack.base_url}/status?token={stack.api_token}", timeout=10)
    assert in_url.status_code == 401
    assert stack.api("GET", "/status").status_code == 200


def test_cors_allows_only_the_chats_own_origin(stack: RunningStack) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    url = f"{stack.base_url}/webhooks/rest/webhook"
    foreign = requests.options(url, headers={"Origin": FOREIGN_ORIGIN, **preflight}, timeout=10)
    assert "Access-Control-Allow-Origin" not in foreign.headers
    simple = requests.post(
        url,
        json={"sender": new_sender(), "message": "hi"},
        headers={"Origin": FOREIGN_ORIGIN},
        timeout=30,
    )
    assert "Access-Control-Allow-Origin" not in simple.headers
    own = requests.options(url, headers={"Origin": stack.base_url, **preflight}, timeout=10)
    assert own.headers.get("Access-Control-Allow-Origin") == stack.base_url
    socket_io = requests.get(
        f"{stack.base_url}/socket.io/?EIO=4&transport=polling",
        headers={"Origin": FOREIGN_ORIGIN},
        timeout=10,
    )
    assert socket_io.status_code >= 400, "no socket.io session for a foreign page"


# Sign-in ---------------------------------------------------------------------------------------


def sign_in(stack: RunningStack, identifier: str, order: str) -> list[str]:
    sender = new_sender()
    stack.texts(sender, "hi", token=VISITOR)
    assert stack.texts(sender, "sign me in", token=VISITOR)[-1] in variants("utter_ask_identity")
    asked = stack.texts(sender, identifier, token=VISITOR)
    assert asked[-1] in variants("utter_ask_verification_order"), asked
    return stack.texts(sender, order, token=VISITOR)


def test_sign_in_is_locked_after_failures_spread_over_new_conversations(
    stack: RunningStack,
) -> None:
    # A customer no other test signs in as (the lock-out lasts 15 minutes).
    [(customer, email, right_order)] = query(
        stack,
        "SELECT c.id, c.email, max(o.id) FROM customers c JOIN orders o ON o.customer_id = c.id "
        "WHERE c.email IS NOT NULL AND c.id > 'cust-0030' "
        "GROUP BY c.id, c.email ORDER BY c.id LIMIT 1",
    )
    outcomes = []
    for attempt in range(20):  # twenty new sender ids, one guess each
        order = right_order if attempt >= 10 else f"DEMO-0099-{attempt:02d}"
        outcomes.append(sign_in(stack, email, order))
    failed, locked = variants("utter_identify_failed"), variants("utter_identify_locked")
    assert all(texts[-1] in failed for texts in outcomes[:5]), outcomes[:5]
    assert all(texts[-1] in locked for texts in outcomes[5:]), outcomes[5:]
    signed_in = "SELECT count(*) FROM identity_proofs WHERE customer_id = %s AND method = 'sign_in'"
    assert query(stack, signed_in, customer) == [(0,)], "the right answer came too late"
    audit = query(
        stack,
        "SELECT outcome, count(*) FROM sign_in_attempts WHERE conversation_id LIKE 'rest:probe-%%' "
        "AND identifier_key = (SELECT identifier_key FROM sign_in_attempts "
        "WHERE conversation_id LIKE 'rest:probe-%%' ORDER BY id DESC LIMIT 1) GROUP BY outcome",
    )
    assert dict(audit) == {"failure": 5, "locked": 15}
    rows = query(stack, "SELECT row_to_json(a)::text FROM sign_in_attempts a")
    assert not any(email.lower() in row.lower() for (row,) in rows), "no raw email is stored"
    logs = "".join(p.read_text(errors="replace") for p in (stack.log.parent / "logs").glob("*"))
    assert email.lower() not in logs.lower(), "no raw email in any log"


def test_an_unknown_email_and_a_wrong_order_get_the_same_answer(stack: RunningStack) -> None:
    unknown = sign_in(stack, f"nobody-{uuid.uuid4().hex[:6]}@example.org", "DEMO-0006-01")
    wrong = sign_in(stack, "cust-0006", order_id("cust-0006", 99))
    assert unknown[-1] in variants("utter_identify_failed")
    assert wrong[-1] in variants("utter_identify_failed")


def test_an_order_number_cannot_be_derived_from_the_customer_number(stack: RunningStack) -> None:
    # The old demo numbering, DEMO-<customer number>-NN, made the proof public.
    for number in (1, 2):
        texts = sign_in(stack, "cust-0009", f"DEMO-0009-{number:02d}")
        assert texts[-1] in variants("utter_identify_failed"), texts
    [(first,)] = query(
        stack, "SELECT min(id) FROM orders WHERE customer_id = 'cust-0009' AND id LIKE 'DEMO-%%'"
    )
    assert not first.startswith("DEMO-0009-")


def test_the_in_chat_sign_in_works_for_the_right_details(stack: RunningStack) -> None:
    [(email, order)] = query(
        stack,
        "SELECT c.email, max(o.id) FROM customers c JOIN orders o ON o.customer_id = c.id "
        "WHERE c.id = 'cust-0004' GROUP BY c.id, c.email",
    )
    texts = sign_in(stack, email, order)
    assert texts[0] in any_welcome_back("Dev"), texts
    proof = query(
        stack,
        "SELECT channel, method FROM identity_proofs WHERE customer_id = 'cust-0004' "
        "AND method = 'sign_in'",
    )
    assert ("rest", "sign_in") in proof


# Slack -----------------------------------------------------------------------------------------


def test_the_export_asked_for_in_a_shared_slack_channel_is_not_shown_there(
    stack: RunningStack, slack_api: RecordingSlackApi
) -> None:
    suffix = uuid.uuid4().hex[:8].upper()
    user, channel = f"U{suffix}", f"C{suffix}"
    slack_api.emails[user] = "alice.martin@example.com"

    def mention(text: str) -> dict:
        return {
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10]}",
            "authorizations": [{"user_id": "U0BOT"}],
            "event": {
                "type": "app_mention",
                "channel": channel,
                "user": user,
                "text": f"<@U0BOT> {text}",
                "ts": f"{time.time():.6f}",
            },
        }

    assert post_event(stack, mention("hi")).status_code == 200
    greeting = slack_api.wait_for_posts(channel, at_least=2)
    assert not any("DEMO-" in t for t in greeting), "no order in a shared channel"
    seen = len(slack_api.posted(channel))
    assert post_event(stack, mention("can I get a copy of all my data?")).status_code == 200
    posted = slack_api.wait_for_posts(channel, at_least=seen + 1)[seen:]
    assert any(t in variants("utter_continue_in_direct_message") for t in posted), posted
    everything = " ".join(slack_api.posted(channel)).lower()
    assert "alice.martin@example.com" not in everything and "email:" not in everything
