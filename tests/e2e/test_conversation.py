"""End to end: `python -m stack run` with real Rasa and action servers.

The stack is pointed at PostgreSQL and Redis servers it did not start (DATABASE_URL and
REDIS_URL), which is also the test that configured URLs are honoured: the conversation must
land in exactly those servers, and stopping the stack must leave them running.
"""

from __future__ import annotations

import json
import re
import signal
import time
import uuid

import pytest
import redis
import requests

from tests.conftest import Servers
from tests.e2e.stack import (
    RECORD_EXP_S,
    RunningStack,
    any_welcome_back,
    conversation_id,
    order_prefix,
    query,
    stored_events,
    variants,
)

pytestmark = pytest.mark.e2e


def test_known_customer_is_greeted_by_name_and_told_about_her_parcel(stack: RunningStack) -> None:
    texts = stack.texts("cust-0001", "hi")
    assert len(texts) == 3
    assert texts[0] in variants("utter_welcome_back_vip_casual", customer_name="Alice")
    assert (
        texts[1].startswith(f"Your order {order_prefix('cust-0001')}") and "on its way" in texts[1]
    )
    assert texts[2] in variants("utter_greet")


def test_unknown_sender_gets_the_generic_welcome(stack: RunningStack) -> None:
    texts = stack.texts(f"visitor-{uuid.uuid4().hex[:8]}", "hello")
    assert texts[0] in variants("utter_welcome")
    assert texts[1] in variants("utter_greet")


def test_a_customer_token_identifies_the_customer_whatever_the_sender_id(
    stack: RunningStack,
) -> None:
    texts = stack.texts(uuid.uuid4().hex, "hi", token=stack.token("cust-0002"))
    assert texts[0] in variants("utter_welcome_back_lapsed_formal", customer_name="Bruno")


def test_the_conversation_is_kept_in_redis_and_streamed_to_postgres(stack: RunningStack) -> None:
    sender = "cust-0003"
    stack.texts(sender, "good morning")
    stack.texts(sender, "are you a robot?")

    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    key = f"{stack.key_prefix}:tracker:{conversation_id(sender)}"
    try:
        stored = client.get(key)
        ttl = client.ttl(key)
    finally:
        client.close()
    assert stored is not None, f"no tracker under {key}"
    assert 0 < ttl <= RECORD_EXP_S, "record_exp sets the retention"
    user_texts = [e.get("text") for e in json.loads(stored)["events"] if e["event"] == "user"]
    assert user_texts == ["good morning", "are you a robot?"]

    events = stored_events(
        stack,
        conversation_id(sender),
        until=lambda events: any(
            e["event"] == "bot" and e.get("text") in variants("utter_iamabot") for e in events
        ),
    )
    kinds = [e["event"] for e in events]
    assert "session_started" in kinds
    assert [e["text"] for e in events if e["event"] == "user"] == user_texts
    bot_texts = [e["text"] for e in events if e["event"] == "bot"]
    assert bot_texts[0] in variants("utter_welcome_back_new_casual", customer_name="Chloé")
    assert bot_texts[-1] in variants("utter_iamabot")


def test_scope_and_bot_questions_are_answered(stack: RunningStack) -> None:
    sender = f"visitor-{uuid.uuid4().hex[:8]}"
    stack.texts(sender, "hi")
    assert stack.texts(sender, "am i talking to a real person?") == [*variants("utter_iamabot")]
    [reply] = stack.texts(sender, "what's the weather like in Rome tomorrow")
    assert reply in variants("utter_out_of_scope")
    [reply] = stack.texts(sender, "thanks")
    assert reply in variants("utter_you_are_welcome")
    [reply] = stack.texts(sender, "bye")
    assert reply in variants("utter_goodbye")


def test_two_stage_fallback_confirms_in_plain_words_then_acts(stack: RunningStack) -> None:
    sender = f"visitor-{uuid.uuid4().hex[:8]}"
    stack.texts(sender, "hi")
    [question] = stack.say(sender, "vbnmq wertz")
    assert question["text"].startswith("Sorry, I'm not sure I understood. Did you want to ")
    assert "_" not in question["text"], "no intent names shown to customers"
    yes, no = question["buttons"]
    assert (yes["title"], no["title"], no["payload"]) == ("Yes", "No", "/out_of_scope")
    guessed_intent = yes["payload"].lstrip("/")
    expected = {
        "greet": "utter_greet",
        "goodbye": "utter_goodbye",
        "thank": "utter_you_are_welcome",
        "bot_challenge": "utter_iamabot",
    }
    assert guessed_intent != "out_of_scope", "never offered: Rasa reads it as No"
    answers = stack.texts(sender, yes["payload"])
    assert answers, "the confirmed intent is answered"
    if guessed_intent in expected:
        assert answers[0] in variants(expected[guessed_intent])


def test_two_stage_fallback_gives_up_politely(stack: RunningStack) -> None:
    sender = f"visitor-{uuid.uuid4().hex[:8]}"
    stack.texts(sender, "hi")
    stack.say(sender, "vbnmq wertz")
    [rephrase] = stack.texts(sender, "/out_of_scope")  # "No"
    assert rephrase in variants("utter_ask_rephrase")
    [second_guess] = stack.say(sender, "ghjkl ppqr")  # the rephrase is no clearer
    assert second_guess["text"].startswith("Sorry, I'm not sure I understood. Did you want to ")
    final, handoff = stack.texts(sender, "/out_of_scope")  # "No" again: a person takes over
    assert final in variants("utter_default")
    assert handoff.startswith("I've passed this to our support team")
    [after] = stack.texts(sender, "are you a bot?")
    assert after in variants("utter_iamabot"), "the conversation goes on normally afterwards"


def test_two_customers_get_different_fitting_replies_to_the_same_message(
    stack: RunningStack,
) -> None:
    replies = {}
    for sender, name in (("cust-0001", "Alice"), ("cust-0002", "Bruno")):
        stack.texts(sender, "hello")
        [reply] = stack.say(sender, "any gift ideas?")
        replies[sender] = reply
        assert reply["text"] == f"Here are some picks for you, {name}:"
    alice, other = replies["cust-0001"], replies["cust-0002"]
    assert alice["text"] != other["text"]
    assert [b["payload"] for b in alice["buttons"]] != [b["payload"] for b in other["buttons"]]
    shown = query(
        stack,
        "SELECT count(*) FROM interactions WHERE customer_id = 'cust-0001' "
        "AND kind = 'recommendation_shown'",
    )
    assert shown == [(4,)]


def test_an_opted_out_customer_gets_generic_replies_and_nothing_is_recorded(
    stack: RunningStack,
) -> None:
    sender = "cust-0008"
    assert stack.texts(sender, "hi")[0] in any_welcome_back(
        query(
            stack, "SELECT split_part(display_name, ' ', 1) FROM customers WHERE id = %s", sender
        )[0][0]
    )
    [done] = stack.texts(sender, "stop personalising my experience please")
    assert done in variants("utter_opted_out")
    before = query(stack, "SELECT count(*) FROM message_sentiment WHERE customer_id = %s", sender)
    [reply] = stack.say(sender, "any gift ideas?")
    assert reply["text"] in variants("utter_recommendations_popular")
    stack.texts(sender, "this is awful, i'm so annoyed")
    after = query(stack, "SELECT count(*) FROM message_sentiment WHERE customer_id = %s", sender)
    assert after == before, "no mood is recorded after the opt-out"
    assert query(
        stack,
        "SELECT count(*) FROM interactions WHERE customer_id = %s AND kind LIKE 'recommendation%%'",
        sender,
    ) == [(0,)]
    assert query(
        stack, "SELECT action, source FROM consent_audit WHERE customer_id = %s", sender
    ) == [("opt_out", "chat")]
    # A new session after the opt-out is generic from the first word.
    client = redis.Redis.from_url(stack.redis_url)
    client.delete(f"{stack.key_prefix}:tracker:{conversation_id(sender)}")
    client.close()
    assert stack.texts(sender, "hello")[0] in variants("utter_welcome")


def test_an_angry_billing_complaint_ends_in_a_ticket(stack: RunningStack) -> None:
    sender = "cust-0011"
    stack.texts(sender, "hi")
    texts = stack.texts(sender, "I'm furious, you've charged my card twice, this is ridiculous!")
    assert texts[0].startswith("I'm really sorry about this"), "the compassionate variant"
    if texts[-1] in variants("utter_offer_human"):  # a person is offered, and accepted
        [done] = stack.texts(sender, "yes please")
    else:  # the mood fell so fast that the bot handed over at once
        done = texts[-1]
    assert done.startswith("I've passed this to our support team")
    [(reason, priority, summary)] = query(
        stack,
        "SELECT reason, priority, summary FROM support_tickets WHERE conversation_id = %s",
        conversation_id(sender),
    )
    assert reason in ("billing_distress", "worsening_mood")
    assert priority in ("high", "urgent")
    assert "charged my card twice" in summary


def test_feedback_moves_the_bandit_counts(stack: RunningStack) -> None:
    sender = "cust-0012"
    stack.texts(sender, "hi")
    segment = query(
        stack, "SELECT segment FROM segment_assignments WHERE customer_id = %s", sender
    )[0][0]

    def counts() -> int:
        rows = query(
            stack,
            "SELECT coalesce(sum(successes + failures), 0) FROM style_bandit_arms "
            "WHERE segment = %s",
            segment,
        )
        return int(rows[0][0])

    before = counts()
    texts = stack.texts(sender, "I have a question about a payment on my invoice")
    assert texts[-1] in variants("utter_ask_helpful"), texts
    assert stack.texts(sender, "/affirm")[-1] in variants("utter_ask_csat")  # thumbs up
    [thanks] = stack.texts(sender, '/rate{"csat":"5"}')
    assert thanks in variants("utter_csat_thanks")
    assert counts() == before + 2
    assert query(
        stack, "SELECT kind, value FROM feedback WHERE customer_id = %s ORDER BY id", sender
    ) == [("thumbs", 1), ("csat", 5)]


def test_delete_my_data_leaves_nothing_in_postgres_or_redis(stack: RunningStack) -> None:
    sender = "cust-0007"
    stack.texts(sender, "hi")
    [interest] = stack.say(sender, "any gift ideas?")  # a new customer: onboarding first
    assert interest["text"] in variants("utter_ask_interest")
    stack.texts(sender, "Kitchen")
    [picks] = stack.say(sender, "£25")
    assert picks["buttons"], "recommendations, recorded as shown"
    assert query(stack, "SELECT preferences->'interests' FROM customers WHERE id = %s", sender) == [
        (["Kitchen"],)
    ]
    [confirm] = stack.say(sender, "please delete my data")
    assert confirm["text"] in variants("utter_confirm_erase")
    [erased] = stack.texts(sender, "/affirm")
    found = re.search(r"ER-[A-Z0-9]{4}-[A-Z0-9]{4}", erased)
    assert found, erased
    reference = found.group()
    # Done by the worker within the wait, or promised with the reference when it is busy.
    assert erased in variants("utter_erased", reference=reference) | variants(
        "utter_erasure_pending", reference=reference, minutes="15"
    )

    def leftovers() -> tuple[list, list]:
        tables = [
            t
            for (t,) in query(
                stack,
                "SELECT DISTINCT table_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'customer_id' "
                "AND table_name <> 'consent_audit'",
            )
        ]
        rows = [
            t for t in tables if query(stack, f"SELECT 1 FROM {t} WHERE customer_id = %s", sender)
        ]
        rows += (
            ["customers"] if query(stack, "SELECT 1 FROM customers WHERE id = %s", sender) else []
        )
        rows += (
            ["events"]
            if query(stack, "SELECT 1 FROM events WHERE sender_id = %s", conversation_id(sender))
            else []
        )
        client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
        try:
            keys = [k for k in client.scan_iter(match=f"*{sender}*")]
        finally:
            client.close()
        return rows, keys

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and leftovers() != ([], []):
        time.sleep(1)
    assert leftovers() == ([], [])
    assert query(stack, "SELECT action FROM consent_audit WHERE customer_id = %s", sender) == [
        ("erase",)
    ]
    assert query(
        stack, "SELECT status, customer_id FROM erasure_jobs WHERE reference = %s", reference
    ) == [("done", None)], "the job is done and keeps no clear customer id"


def test_a_postgres_outage_degrades_replies_and_loses_no_events(
    stack: RunningStack, servers: Servers
) -> None:
    known, visitor = "cust-0004", f"visitor-{uuid.uuid4().hex[:8]}"
    assert stack.texts(known, "hi")[0] in any_welcome_back("Dev")
    servers.postgres.stop()
    try:
        # A known customer starting a conversation now cannot be recognised: generic welcome.
        outage_sender = "cust-0001"
        client = redis.Redis.from_url(stack.redis_url)
        client.delete(f"{stack.key_prefix}:tracker:{conversation_id(outage_sender)}")
        client.close()
        welcome = stack.texts(outage_sender, "hello")
        assert welcome[0] in variants("utter_welcome")
        assert stack.texts(known, "are you a bot?") == [*variants("utter_iamabot")]
        assert stack.texts(visitor, "hi")[0] in variants("utter_welcome")
    finally:
        servers.postgres.start()

    # Conversations kept going to Redis: Rasa did not fall back to an in-memory store.
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        tracker = json.loads(client.get(f"{stack.key_prefix}:tracker:{conversation_id(visitor)}"))
    finally:
        client.close()
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["hi"]

    # Once PostgreSQL is back, the broker's writer drains its spool by itself.
    stack.texts(known, "thanks")
    wanted = ("hi", "are you a bot?", "thanks")
    texts = [
        e.get("text")
        for e in stored_events(
            stack,
            conversation_id(known),
            until=lambda events: (
                [e.get("text") for e in events if e.get("text") in wanted] == list(wanted)
            ),
            timeout_s=20,
        )
    ]
    user_texts = [t for t in texts if t in ("hi", "are you a bot?", "thanks")]
    assert user_texts == ["hi", "are you a bot?", "thanks"]
    for server_log in ("rasa.log", "actions.log"):
        assert "Traceback" not in (stack.log.parent / "logs" / server_log).read_text()


@pytest.mark.stops_stack
def test_ctrl_c_stops_the_bot_but_leaves_servers_it_did_not_start(
    stack: RunningStack, servers: Servers
) -> None:
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=60) == 0
    for url in (f"{stack.base_url}/", f"{stack.action_url}/health"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)
    assert "Embedded servers started by this run: none" in stack.log.read_text()
    assert servers.postgres.is_running()
    assert servers.redis.is_running()
