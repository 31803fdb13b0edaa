"""One running stack for all end-to-end and security tests: real Rasa and action servers,
PostgreSQL and Redis, Slack configured against a local recording API. Starting it takes about
a minute, so it is shared (tests/conftest.py registers these fixtures once for all folders);
the test that stops it (marked ``stops_stack``) runs last."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from stack.services import free_tcp_port
from stack.training import TrainingPlan
from tests.conftest import PROJECT_ROOT, Servers, create_database
from tests.e2e.slack_api import RecordingSlackApi
from tests.e2e.stack import (
    CUSTOMER_TOKEN_SECRET,
    PSEUDONYM_KEY,
    RECORD_EXP_S,
    RunningStack,
    wait_for_status,
)

SLACK_SIGNING_SECRET = "e2e-signing-secret"
SLACK_BOT_TOKEN = "xoxb-e2e-token"
RASA_API_TOKEN = "e2e-rasa-api-token-" + uuid.uuid4().hex
ACTION_SERVER_TOKEN = "e2e-action-server-token-" + uuid.uuid4().hex
OPERATOR_TOKEN = "e2e-operator-token-" + uuid.uuid4().hex


def stopping_the_stack_last(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("stops_stack") is not None)


@pytest.fixture(scope="session")
def slack_api() -> Iterator[RecordingSlackApi]:
    api = RecordingSlackApi().start()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def stack(
    servers: Servers, slack_api: RecordingSlackApi, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    TrainingPlan(PROJECT_ROOT).train()  # a no-op when `make test` has just trained
    data_dir = tmp_path_factory.mktemp("stack")
    rasa_port, action_port, insights_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
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
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SLACK_CHANNEL": "",
        "SLACK_API_URL": slack_api.url,
        "CUSTOMER_TOKEN_SECRET": CUSTOMER_TOKEN_SECRET,
        "PSEUDONYM_KEY": PSEUDONYM_KEY,
        "RASA_API_TOKEN": RASA_API_TOKEN,
        "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
        # Every test request comes from 127.0.0.1: a per-client limit of the default 20 would
        # let the brute-force test lock the other sign-in tests out. The per-identifier limit
        # stays at its default, and the per-client one is tested against the store.
        "SIGN_IN_MAX_FAILURES_PER_CLIENT": "1000",
        # The journeys count a demo customer's rows (clicks, feedback): no simulated traffic.
        "DEMO_TRAFFIC_CONVERSATIONS": "0",
        "INSIGHTS_PORT": str(insights_port),
        "OPERATOR_TOKEN": OPERATOR_TOKEN,
    }
    log = data_dir / "stack.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "stack", "run", "--no-train", "--demo", "--api"],
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
        api_token=RASA_API_TOKEN,
        action_token=ACTION_SERVER_TOKEN,
        insights_url=f"http://127.0.0.1:{insights_port}",
        operator_token=OPERATOR_TOKEN,
    )
    try:
        wait_for_status(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
