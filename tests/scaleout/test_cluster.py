"""Two Rasa servers and two action servers behind HAProxy (`make run-cluster`), under load.

One isolated cluster for the module: its own PostgreSQL, Redis, data directory and ports.
50 conversations talk through HAProxy at once, and 10 more send each message to the other
server's own port in turn, the worst case for shared state. Then:

- no answer is empty, an error or the trouble reply, and no server logged a lock error;
- PostgreSQL holds every customer message once, in the order it was sent;
- both servers read the same conversation: a conversation that alternated between them has
  every message counted in its mood slot, whichever server is asked.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
import psycopg2
import pytest
import requests

from benchmarks.reliability_stack import IsolatedStack
from stack.training import TrainingPlan
from tests.conftest import PROJECT_ROOT

THROUGH_BALANCER = 50
ALTERNATING = 10
SCRIPT = ("hello", "I am sad", "yes", "great", "bye")
ALTERNATING_SCRIPT = (*SCRIPT, "thanks")
TROUBLE = "having trouble"
TIMEOUT = aiohttp.ClientTimeout(total=60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IsolatedStack]:
    TrainingPlan(PROJECT_ROOT).train()  # a no-op when `make test` has just trained
    stack = IsolatedStack(tmp_path_factory.mktemp("scaleout") / "stack", cluster=True)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


async def converse(
    session: aiohttp.ClientSession, urls: list[str], sender: str, script: tuple[str, ...]
) -> list[tuple[int, str]]:
    """Send the script in turn, the n-th message to urls[n % len(urls)]; (status, text) each."""
    answers = []
    for n, text in enumerate(script):
        url = f"{urls[n % len(urls)]}/webhooks/rest/webhook"
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            body = await response.text()
            replies = json.loads(body) if response.status == 200 else []
            answers.append((response.status, " ".join(r.get("text", "") for r in replies)))
    return answers


async def load(stack: IsolatedStack) -> dict[str, list[tuple[int, str]]]:
    servers = [f"http://127.0.0.1:{p['rasa_port']}" for p in stack.cluster_plan()["pairs"]]
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        jobs = {
            f"lb-{n}": converse(session, [stack.base_url], f"lb-{n}", SCRIPT)
            for n in range(THROUGH_BALANCER)
        }
        jobs |= {
            f"alt-{n}": converse(session, servers, f"alt-{n}", ALTERNATING_SCRIPT)
            for n in range(ALTERNATING)
        }
        results = await asyncio.gather(*jobs.values())
    return dict(zip(jobs, results, strict=True))


@pytest.fixture(scope="module")
def answers(cluster: IsolatedStack) -> dict[str, list[tuple[int, str]]]:
    return asyncio.run(load(cluster))


def stored_messages(stack: IsolatedStack) -> dict[str, list[str]]:
    url = stack.database_url()
    assert url is not None
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT sender_id, data FROM events WHERE data::json->>'event' = 'user' "
                "AND (sender_id LIKE 'rest:lb-%' OR sender_id LIKE 'rest:alt-%') ORDER BY id"
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    stored: dict[str, list[str]] = {}
    for sender_id, data in rows:
        stored.setdefault(sender_id.removeprefix("rest:"), []).append(json.loads(data)["text"])
    return stored


def test_every_message_is_answered_without_a_lock_error(
    cluster: IsolatedStack, answers: dict[str, list[tuple[int, str]]]
) -> None:
    assert len(answers) == THROUGH_BALANCER + ALTERNATING
    bad = {
        sender: replies
        for sender, replies in answers.items()
        if any(status != 200 or not text or TROUBLE in text for status, text in replies)
    }
    assert bad == {}, f"empty, failed or trouble answers: {dict(list(bad.items())[:3])}"
    logs = [Path(cluster.logs_dir) / f"rasa-{n}.log" for n in (1, 2)]
    for log in logs:
        assert log.exists(), f"{log.name}: each server of the pair logs on its own"
        assert "LockError" not in log.read_text(errors="replace"), f"a lock error in {log.name}"


def test_every_message_is_stored_once_and_in_order(
    cluster: IsolatedStack, answers: dict[str, list[tuple[int, str]]]
) -> None:
    expected = {s: list(SCRIPT) for s in answers if s.startswith("lb-")}
    expected |= {s: list(ALTERNATING_SCRIPT) for s in answers if s.startswith("alt-")}
    stored: dict[str, list[str]] = {}
    for _ in range(40):  # the broker writes from its spool in the background
        stored = stored_messages(cluster)
        if stored == expected:
            break
        asyncio.run(asyncio.sleep(0.5))
    missing = {s: (stored.get(s), want) for s, want in expected.items() if stored.get(s) != want}
    assert missing == {}, f"lost, doubled or reordered: {dict(list(missing.items())[:3])}"


def test_both_servers_read_the_same_conversation(
    cluster: IsolatedStack, answers: dict[str, list[tuple[int, str]]]
) -> None:
    assert answers
    headers = {"Authorization": f"Bearer {cluster.api_token}"}
    for pair in cluster.cluster_plan()["pairs"]:
        response = requests.get(
            f"http://127.0.0.1:{pair['rasa_port']}/conversations/rest:alt-0/tracker",
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200
        slots = response.json()["slots"]
        assert slots["mood_messages"] == len(ALTERNATING_SCRIPT), (
            f"server {pair['index']} sees every message of the conversation in its state"
        )


def test_with_no_server_up_the_balancer_says_so_and_the_servers_come_back(
    cluster: IsolatedStack, answers: dict[str, list[tuple[int, str]]]
) -> None:
    """Both Rasa servers SIGKILLed: a 503 with Retry-After that says the assistant is
    starting, never an empty answer; then the runner restarts them and answers resume."""
    assert answers  # after the load: this test takes the servers down
    killed = []
    servers = rasa_servers(cluster)
    assert len(servers) == len(cluster.cluster_plan()["pairs"]), servers
    for process in servers:
        process.send_signal(signal.SIGKILL)
        killed.append(process)
    psutil.wait_procs(killed, timeout=10)
    # Their ports now refuse: HAProxy tries both, then says the assistant is starting.
    hello = {"sender": "after-restart", "message": "hello"}
    url = f"{cluster.base_url}/webhooks/rest/webhook"
    response = requests.post(url, json=hello, timeout=30)
    alive = [process.pid for process in servers if process.is_running()]
    assert response.status_code == 503, f"{response.status_code}; still running: {alive}"
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "starting"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            response = requests.post(url, json=hello, timeout=10)
        except requests.Timeout:
            continue
        if response.status_code == 200:
            break
        assert response.status_code == 503 and response.headers.get("Retry-After")
        time.sleep(1)
    assert response.status_code == 200 and response.json(), "answers resume after the restart"


def rasa_servers(stack: IsolatedStack) -> list[psutil.Process]:
    """The cluster's Rasa servers, by command line among the runner's children (the runner
    holds their ports too, so the listening pid is no proof)."""
    assert stack.process is not None
    return [
        child
        for child in psutil.Process(stack.process.pid).children(recursive=True)
        if "stack.rasa_server" in " ".join(child.cmdline())
    ]
