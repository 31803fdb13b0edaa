"""The running stack the end-to-end tests talk to, and helpers to read its replies."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
import requests
import yaml

from tests.conftest import PROJECT_ROOT

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


def wait_for_status(stack: RunningStack) -> None:
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
