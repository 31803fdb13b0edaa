"""The running stack the end-to-end tests talk to, and helpers to read its replies."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
import requests
import yaml

from personalization.auth.tokens import mint_token
from personalization.demo_data import demo_order_id
from tests.conftest import PROJECT_ROOT

READY_TIMEOUT_S = 300
RECORD_EXP_S = 3600
DEMO_CUSTOMER = re.compile(r"^cust-\d{4}$")
CUSTOMER_TOKEN_SECRET = "e2e-customer-token-secret-0123456789abcdef"
PSEUDONYM_KEY = "e2e-pseudonym-key-0123456789abcdef"  # keys the demo order numbers too
AUDIENCE = "hearth-home-support"
VISITOR = object()  # say(..., token=VISITOR): no token even for a sender named like a customer


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
    api_token: str = ""
    action_token: str = ""
    insights_url: str = ""
    operator_token: str = ""

    def token(
        self, customer_id: str, ttl_s: int = 900, audience: str = AUDIENCE, **overrides: object
    ) -> str:
        """A customer token as the shop's backend mints it (claims can be overridden)."""
        return mint_token(customer_id, CUSTOMER_TOKEN_SECRET, audience, ttl_s=ttl_s, **overrides)

    def say(
        self,
        sender: str,
        text: str,
        metadata: dict | None = None,
        token: str | object | None = None,
    ) -> list[dict]:
        """Send over REST. A sender named like a demo customer ("cust-0001") speaks with that
        customer's token, as the shop's app would; ``token=VISITOR`` sends none."""
        if token is None and DEMO_CUSTOMER.match(sender):
            token = self.token(sender)
        body: dict = {"sender": sender, "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        headers = {"Authorization": f"Bearer {token}"} if isinstance(token, str) else {}
        reply = requests.post(
            f"{self.base_url}/webhooks/rest/webhook", json=body, headers=headers, timeout=30
        )
        reply.raise_for_status()
        return reply.json()

    def texts(
        self,
        sender: str,
        text: str,
        metadata: dict | None = None,
        token: str | object | None = None,
    ) -> list[str]:
        return [m.get("text", "") for m in self.say(sender, text, metadata, token)]

    def api(self, method: str, path: str, token: str | None = None, **kwargs: object):
        """A call to Rasa's HTTP API, with the stack's API token unless another is given."""
        token = self.api_token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(
            method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs
        )


def order_id(customer_id: str, number: int) -> str:
    """A demo customer's ``number``-th order, as the stack's demo shop numbered it."""
    return demo_order_id(customer_id, number, PSEUDONYM_KEY.encode())


def order_prefix(customer_id: str) -> str:
    """What every order number of a demo customer starts with ("DEMO-4821-")."""
    return order_id(customer_id, 1)[: -len("01")]


def conversation_id(sender: str, customer: str | None = None) -> str:
    """The id Rasa keeps a REST conversation under: a sender named like a demo customer speaks
    with that customer's token (see ``RunningStack.say``), and a token scopes the id."""
    if customer is None and DEMO_CUSTOMER.match(sender):
        customer = sender
    return f"rest:{customer}+{sender}" if customer else f"rest:{sender}"


def wait_for_status(stack: RunningStack) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            pytest.fail(f"the stack exited early:\n{stack.log.read_text()[-4000:]}")
        try:
            ready = requests.get(f"{stack.base_url}/webhooks/rest/", timeout=2)
            if ready.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(
        f"the stack was not ready after {READY_TIMEOUT_S}s:\n{stack.log.read_text()[-4000:]}"
    )


def any_welcome_back(name: str) -> set[str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    return set().union(
        *(
            variants(r, customer_name=name)
            for r in domain["responses"]
            if r.startswith("utter_welcome_back_")
        )
    )


def query(stack: RunningStack, sql: str, *params: object) -> list[tuple]:
    conn = psycopg2.connect(stack.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def stored_events(
    stack: RunningStack, conversation: str, until: Callable[[list[dict]], bool], timeout_s=10.0
) -> list[dict]:
    """The conversation's events in PostgreSQL once `until` holds for them.

    The broker writes from a background thread, a moment after the reply; this waits for it.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        rows = query(
            stack, "SELECT data FROM events WHERE sender_id = %s ORDER BY id", conversation
        )
        events = [json.loads(row[0]) for row in rows]
        if until(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.2)
