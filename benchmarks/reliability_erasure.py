"""Erasure during an outage: a customer with data asks, in the chat, to delete it, the moment
PostgreSQL has been killed; once PostgreSQL is back and the job worker has run, nothing of the
customer may be left in any store.

"Every store" is read literally: every PostgreSQL table with a customer column or a
conversation column (audit tables, named `*_audit`, keep their one line by design), any event
that mentions the customer, every Redis key and value, and the files of the stack's data
directory (stored models, the broker's spool), in UTF-8 and in the UTF-32 numpy uses for
string arrays. PostgreSQL's own files and the logs are not scanned: deleted rows stay in
table pages until vacuumed, and logs have a retention of their own.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from benchmarks.reliability_load import wait_for_events
from benchmarks.reliability_stack import IsolatedStack, conversation_id

ERASE_CUSTOMER = "cust-0050"  # outside the load's customers
CONFIRM_QUESTION = "This permanently deletes your"  # utter_confirm_erase
# The answer to a recorded request names it: "I've recorded your request (reference ER-…)".
REFERENCE = re.compile(r"\breference [A-Z]{2}-[A-Z0-9-]+")
UNSCANNED_DIRS = ("postgres", "logs", "redis")
# Onboarding (interest, budget) records preferences and shown recommendations; an order
# question; thanks. Each line ends whatever the one before asked.
SETUP_LINES = ("hi", "any gift ideas?", "Kitchen", "£25", "where is my order?", "no", "thanks")


@dataclass
class ErasureReport:
    customer: str
    conversations: list[str]
    before: dict[str, Any] = field(default_factory=dict)
    replies: dict[str, list[str]] = field(default_factory=dict)
    postgres_down_at_request: bool = False
    postgres_back_after_s: float | None = None
    restarted_by: str = ""
    completed_after_s: float | None = None
    leftovers: dict[str, list[str]] = field(default_factory=dict)
    audited: bool = False
    jobs: dict[str, int] = field(default_factory=dict)
    stack_restarts: list[str] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        """The chat acknowledged the request with a reference the customer can quote."""
        return any(REFERENCE.search(a) for a in self.replies.get("confirm", []))

    def figures(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "conversations": len(self.conversations),
            "data_before": self.before,
            "replies": self.replies,
            "postgres_down_at_request": self.postgres_down_at_request,
            "postgres_back_after_s": self.postgres_back_after_s,
            "postgres_restarted_by": self.restarted_by,
            "erased_after_s": self.completed_after_s,
            "leftovers": self.leftovers,
            "erasure_audited": self.audited,
            "erasure_jobs_by_status": self.jobs,
            "stack_restarted_by_harness": self.stack_restarts,
        }

    def problems(self) -> list[str]:
        found = []
        if not self.before.get("customer_row") or not self.before.get("events"):
            found.append(f"the customer had no data to erase before the request: {self.before}")
        if not self.postgres_down_at_request:
            found.append("PostgreSQL was already back when the request was answered")
        if self.restarted_by != "runner":
            found.append(
                f"PostgreSQL was not restarted by the runner ({self.restarted_by or 'never'})"
            )
        asked = self.replies.get("ask", [])
        if not any(a.startswith(CONFIRM_QUESTION) for a in asked):
            found.append(f"'delete my data' was not answered with the confirmation: {asked}")
        answers = self.replies.get("confirm", [])
        if not answers or not any(a.strip() for a in answers):
            found.append("the confirmation got no answer")
        elif not self.recorded:
            found.append(f"the request was not recorded (no reference given): {answers}")
        if self.leftovers:
            found.append(f"left after the erasure: {self.leftovers}")
        if not self.audited:
            found.append("no audit entry for the erasure")
        if self.stack_restarts:
            found.append(f"the stack died: {self.stack_restarts}")
        return found


def _texts(stack: IsolatedStack, sender: str, text: str, token: str) -> list[str]:
    try:
        reply = stack.say(sender, text, token)
    except Exception as exc:  # a transport error is an answer too: none
        return [f"<{type(exc).__name__}>"]
    if reply.status_code != 200:
        return [f"<HTTP {reply.status_code}>"]
    try:
        return [str(m.get("text") or "") for m in reply.json() if isinstance(m, dict)]
    except ValueError:
        return ["<not JSON>"]


def leftovers(stack: IsolatedStack, customer: str, conversations: list[str]) -> dict[str, list]:
    """What is still there of the customer, store by store (empty when all is gone)."""
    found: dict[str, list] = {}
    ids = [*conversations, customer]
    columns = stack.query(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name NOT LIKE '%%\\_audit' "
        "AND (column_name = 'customer_id' OR column_name LIKE '%%sender%%' "
        "OR column_name LIKE '%%conversation%%') "
        "AND data_type IN ('text', 'character varying', 'ARRAY')"
    )
    for table, column, data_type in columns:
        if data_type == "ARRAY":
            sql = f'SELECT count(*) FROM "{table}" WHERE "{column}" && %s::text[]'
        else:
            sql = f'SELECT count(*) FROM "{table}" WHERE "{column}" = ANY(%s)'
        [(count,)] = stack.query(sql, ids)
        if count:
            found.setdefault("postgres", []).append(f"{table}.{column}: {count} rows")
    [(count,)] = stack.query("SELECT count(*) FROM customers WHERE id = %s", customer)
    if count:
        found.setdefault("postgres", []).append("customers: the customer's row")
    [(count,)] = stack.query("SELECT count(*) FROM events WHERE strpos(data, %s) > 0", customer)
    if count:
        found.setdefault("postgres", []).append(f"events mentioning the customer: {count}")
    redis_found = _redis_leftovers(stack, customer, conversations)
    if redis_found:
        found["redis"] = redis_found
    files = _file_leftovers(stack, customer)
    if files:
        found["files"] = files
    return found


def _redis_leftovers(stack: IsolatedStack, customer: str, conversations: list[str]) -> list[str]:
    needles = [c.encode() for c in (*conversations, customer)]
    found = []
    with stack.redis_client() as client:
        for key in client.scan_iter(count=500):
            if any(n in key for n in needles):
                found.append(f"key {key.decode(errors='replace')}")
                continue
            kind = client.type(key)
            if kind == b"string":
                values = [client.get(key) or b""]
            elif kind == b"hash":
                values = [b"".join(k + v for k, v in client.hgetall(key).items())]
            elif kind == b"list":
                values = client.lrange(key, 0, -1)
            elif kind == b"set":
                values = list(client.smembers(key))
            elif kind == b"zset":
                values = client.zrange(key, 0, -1)
            else:
                values = []
            if any(customer.encode() in v for v in values):
                found.append(f"value of {key.decode(errors='replace')}")
    return found


def _file_leftovers(stack: IsolatedStack, customer: str) -> list[str]:
    needles = (customer.encode(), customer.encode("utf-32-le"), customer.encode("utf-16-le"))
    found = []
    for path in stack.data_dir.rglob("*"):
        relative = path.relative_to(stack.data_dir)
        if relative.parts[0] in UNSCANNED_DIRS or not path.is_file() or path.suffix == ".log":
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(n in data for n in needles):
            found.append(str(relative))
    return found


def run_erasure(
    stack: IsolatedStack, customer: str = ERASE_CUSTOMER, timeout_s: float = 240.0
) -> ErasureReport:
    run = uuid.uuid4().hex[:6]
    senders = [f"erase-{run}-a", f"erase-{run}-b"]
    token = stack.token(customer)
    convs = [conversation_id(s, customer) for s in senders]
    report = ErasureReport(customer, convs)
    if stack.ensure_running("before the erasure scenario"):
        report.stack_restarts = stack.restarts[-1:]
    for line in SETUP_LINES:
        report.replies.setdefault("setup", []).extend(_texts(stack, senders[0], line, token))
    report.replies["setup"] += _texts(stack, senders[1], "hello", token)
    wait_for_events(stack, convs, timeout_s=60)
    report.before = {
        "customer_row": stack.query("SELECT count(*) FROM customers WHERE id = %s", customer)[0][0],
        "orders": _count_if_table(stack, "orders", customer),
        "events": stack.query("SELECT count(*) FROM events WHERE sender_id = ANY(%s)", convs)[0][0],
        "redis": len(_redis_leftovers(stack, customer, convs)),
    }
    report.replies["ask"] = _texts(stack, senders[0], "delete my data", token)

    fault = stack.kill("postgres")
    report.replies["confirm"] = _texts(stack, senders[0], "/affirm", token)
    report.postgres_down_at_request = fault.killed_pid is not None and not stack.postgres_ready()
    stack.wait_recovered(fault)
    report.postgres_back_after_s = fault.recovered_after_s
    report.restarted_by = fault.restarted_by

    started = time.monotonic()
    deadline = fault.killed_at + timeout_s
    found: dict[str, list] = {"not checked": ["PostgreSQL did not come back"]}
    while time.monotonic() < deadline:
        try:
            found = leftovers(stack, customer, convs)
        except Exception as exc:  # a store still coming back
            found = {"not checked": [type(exc).__name__]}
        if not found:
            report.completed_after_s = time.monotonic() - fault.killed_at
            break
        time.sleep(3)
    report.leftovers = found
    del started
    try:
        report.audited = bool(
            stack.query(
                "SELECT 1 FROM consent_audit WHERE customer_id = %s AND action = 'erase'",
                customer,
            )
        )
        report.jobs = dict(
            _safe_query(stack, "SELECT status, count(*) FROM erasure_jobs GROUP BY status")
        )
    except Exception:
        report.audited = False
    return report


def _count_if_table(stack: IsolatedStack, table: str, customer: str) -> int | None:
    present = stack.query("SELECT to_regclass(%s) IS NOT NULL", table)[0][0]
    if not present:
        return None
    return stack.query(f'SELECT count(*) FROM "{table}" WHERE customer_id = %s', customer)[0][0]


def _safe_query(stack: IsolatedStack, sql: str) -> list[tuple]:
    try:
        return stack.query(sql)
    except Exception:
        return []
