"""End to end: `python -m stack run` with real Rasa and action servers.

The stack is pointed at PostgreSQL and Redis servers it did not start (DATABASE_URL and
REDIS_URL), which is also the test that configured URLs are honoured: the conversation must
land in exactly those servers, and stopping the stack must leave them running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
import redis
import requests
import yaml

from stack.services import free_tcp_port
from stack.training import TrainingPlan
from tests.conftest import PROJECT_ROOT, Servers, create_database

pytestmark = pytest.mark.e2e

READY_TIMEOUT_S = 300
RECORD_EXP_S = 3600


def variants(response: str, **values: str) -> set[str]:
    """The text variants of a domain response that `values` can fill, filled in.

    A variant whose placeholders are not all given (e.g. a conditional one for known
    customers, asked about for an anonymous visitor) is left out.
    """
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    filled = set()
    for variant in domain["responses"][response]:
        try:
            filled.add(variant["text"].format(**values))
        except KeyError:
            continue
    return filled


@dataclass
class RunningStack:
    process: subprocess.Popen
    base_url: str
    action_url: str
    database_url: str
    redis_url: str
    key_prefix: str
    log: Path

    def say(self, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
        body: dict = {"sender": sender, "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        reply = requests.post(f"{self.base_url}/webhooks/rest/webhook", json=body, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def texts(self, sender: str, text: str, metadata: dict | None = None) -> list[str]:
        return [m.get("text", "") for m in self.say(sender, text, metadata)]


def _wait_for_status(stack: RunningStack) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            pytest.fail(f"the stack exited early:\n{stack.log.read_text()[-4000:]}")
        try:
            if requests.get(f"{stack.base_url}/status", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(
        f"the stack was not ready after {READY_TIMEOUT_S}s:\n{stack.log.read_text()[-4000:]}"
    )


@pytest.fixture(scope="module")
def stack(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    TrainingPlan(PROJECT_ROOT).train()  # a no-op when `make test` has just trained
    data_dir = tmp_path_factory.mktemp("stack")
    rasa_port, action_port = free_tcp_port(), free_tcp_port()
    key_prefix = f"e2e{uuid.uuid4().hex[:8]}"
    database_url = create_database(servers, "e2e")
    redis_url = servers.redis_url.rsplit("/", 1)[0] + "/1"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STACK_DATA_DIR": str(data_dir),
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(action_port),
        "TRACKER_KEY_PREFIX": key_prefix,
        "LOCK_KEY_PREFIX": key_prefix,
        "TRACKER_RECORD_EXP": str(RECORD_EXP_S),
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
    }
    log = data_dir / "stack.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "stack", "run", "--no-train"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = RunningStack(
        process=process,
        base_url=f"http://127.0.0.1:{rasa_port}",
        action_url=f"http://127.0.0.1:{action_port}",
        database_url=database_url,
        redis_url=redis_url,
        key_prefix=key_prefix,
        log=log,
    )
    try:
        _wait_for_status(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def any_welcome_back(name: str) -> set[str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    return set().union(
        *(
            variants(r, customer_name=name)
            for r in domain["responses"]
            if r.startswith("utter_welcome_back_")
        )
    )


def test_known_customer_is_greeted_by_name_and_told_about_her_parcel(stack: RunningStack) -> None:
    texts = stack.texts("cust-0001", "hi")
    assert len(texts) == 3
    assert texts[0] in variants("utter_welcome_back_vip_casual", customer_name="Alice")
    assert texts[1].startswith("Your order DEMO-0001-") and "on its way" in texts[1]
    assert texts[2] in variants("utter_greet")


def test_unknown_sender_gets_the_generic_welcome(stack: RunningStack) -> None:
    texts = stack.texts(f"visitor-{uuid.uuid4().hex[:8]}", "hello")
    assert texts[0] in variants("utter_welcome")
    assert texts[1] in variants("utter_greet")


def test_customer_id_in_the_message_metadata_identifies_the_customer(stack: RunningStack) -> None:
    texts = stack.texts(uuid.uuid4().hex, "hi", metadata={"customer_id": "cust-0002"})
    assert texts[0] in variants("utter_welcome_back_lapsed_formal", customer_name="Bruno")


def test_the_conversation_is_kept_in_redis_and_streamed_to_postgres(stack: RunningStack) -> None:
    sender = "cust-0003"
    stack.texts(sender, "good morning")
    stack.texts(sender, "are you a robot?")

    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    key = f"{stack.key_prefix}:tracker:{sender}"
    try:
        stored = client.get(key)
        ttl = client.ttl(key)
    finally:
        client.close()
    assert stored is not None, f"no tracker under {key}"
    assert 0 < ttl <= RECORD_EXP_S, "record_exp sets the retention"
    user_texts = [e.get("text") for e in json.loads(stored)["events"] if e["event"] == "user"]
    assert user_texts == ["good morning", "are you a robot?"]

    conn = psycopg2.connect(stack.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (sender,))
            events = [json.loads(row[0]) for row in cur.fetchall()]
    finally:
        conn.close()
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
    assert guessed_intent in expected, "out_of_scope is never offered: Rasa reads it as No"
    [answer] = stack.texts(sender, yes["payload"])
    assert answer in variants(expected[guessed_intent])


def test_two_stage_fallback_gives_up_politely(stack: RunningStack) -> None:
    sender = f"visitor-{uuid.uuid4().hex[:8]}"
    stack.texts(sender, "hi")
    stack.say(sender, "vbnmq wertz")
    [rephrase] = stack.texts(sender, "/out_of_scope")  # "No"
    assert rephrase in variants("utter_ask_rephrase")
    [second_guess] = stack.say(sender, "ghjkl ppqr")  # the rephrase is no clearer
    assert second_guess["text"].startswith("Sorry, I'm not sure I understood. Did you want to ")
    [final] = stack.texts(sender, "/out_of_scope")  # "No" again
    assert final in variants("utter_default")
    [after] = stack.texts(sender, "are you a bot?")
    assert after in variants("utter_iamabot"), "the conversation goes on normally afterwards"


def test_slack_webhook_answers_503_while_slack_is_not_configured(stack: RunningStack) -> None:
    reply = requests.post(
        f"{stack.base_url}/webhooks/slack/webhook", json={"type": "event_callback"}, timeout=10
    )
    assert reply.status_code == 503
    assert "SLACK_SIGNING_SECRET" in reply.json()["error"]


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
        client.delete(f"{stack.key_prefix}:tracker:{outage_sender}")
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
        tracker = json.loads(client.get(f"{stack.key_prefix}:tracker:{visitor}"))
    finally:
        client.close()
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["hi"]

    # Once PostgreSQL is back, the next event flushes what was buffered (retry after 5 s).
    time.sleep(6)
    stack.texts(known, "thanks")
    conn = psycopg2.connect(stack.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (known,))
            texts = [json.loads(r[0]).get("text") for r in cur.fetchall()]
    finally:
        conn.close()
    user_texts = [t for t in texts if t in ("hi", "are you a bot?", "thanks")]
    assert user_texts == ["hi", "are you a bot?", "thanks"]
    for server_log in ("rasa.log", "actions.log"):
        assert "Traceback" not in (stack.log.parent / "logs" / server_log).read_text()


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
