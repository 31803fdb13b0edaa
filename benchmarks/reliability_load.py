"""Load with faults: many concurrent REST conversations while PostgreSQL, Redis and the action
server are each killed once, then what every customer got and what every store kept.

The faults are injected at fixed shares of the messages sent (so they land under load, spread
out), one after the other: each waits until the previous service is back. Just before Redis
is killed, every conversation's tracker is read through Rasa's API, so "state lost" compares
a conversation with itself before and after the kill.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.reliability_stack import (
    HTTP_TIMEOUT_S,
    Fault,
    IsolatedStack,
    conversation_id,
    percentile,
)
from personalization.settings import TrackerWindowSettings

# The tracker store keeps at least this many of a session's latest customer messages.
WINDOW_TURNS = TrackerWindowSettings.from_env().turns

# The reply a customer gets while a store is down ("we're having trouble, please try again in
# a minute"). Other replies may say "trouble" (the billing answer does), so the phrase is whole.
TROUBLE = re.compile(r"having trouble", re.IGNORECASE)
FAULTS = ("postgres", "redis", "action server")
FAULT_AT = (0.2, 0.45, 0.7)  # shares of all messages sent when each fault is injected
# Customers whose conversations the load uses; the erasure scenario uses one outside them.
LOAD_CUSTOMERS = 40

GREETINGS = ("hi", "hello", "good morning", "hey there")
ORDER_QUESTIONS = ("where is my order?", "has my order shipped yet", "track my order")
PRODUCT_QUESTIONS = (
    "how long does delivery take",
    "do you ship abroad",
    "do you do gift wrapping",
    "what payment methods do you accept",
    "can i change my delivery address",
)
THANKS = ("thanks", "thank you so much", "cheers, thanks")
SMALL_TALK = ("are you a bot?", "how are you?")


def script(rng: random.Random, messages: int, customer: str | None) -> list[str]:
    """A plausible conversation: a greeting, then questions and thanks in a random order.

    An order question is followed by "no" (it may start a form that asks which order; "no"
    ends it), so every message has an answer whatever the form asked.
    """
    lines = [rng.choice(GREETINGS)]
    while len(lines) < messages:
        kind = rng.random()
        if kind < 0.3 and customer is not None:
            lines += [rng.choice(ORDER_QUESTIONS), "no"]
        elif kind < 0.6:
            lines.append(rng.choice(PRODUCT_QUESTIONS))
        elif kind < 0.8:
            lines.append(rng.choice(THANKS))
        elif kind < 0.9:
            lines.append(rng.choice(SMALL_TALK))
        else:
            lines.append(rng.choice(GREETINGS))
    return lines[:messages]


@dataclass
class Exchange:
    """One message and what came back."""

    conversation: str
    text: str
    status: int | None
    replies: list[dict[str, Any]]
    latency_s: float
    error: str = ""
    sent_at: float = 0.0

    @property
    def texts(self) -> list[str]:
        return [str(r.get("text") or "") for r in self.replies if isinstance(r, dict)]

    @property
    def answered(self) -> bool:
        return self.status == 200 and any(
            isinstance(r, dict) and (r.get("text") or r.get("buttons") or r.get("image"))
            for r in self.replies
        )

    @property
    def trouble(self) -> bool:
        return self.answered and any(TROUBLE.search(t) for t in self.texts)

    @property
    def processed(self) -> bool:
        """Answered as a real turn of the conversation, so it must be in every store."""
        return self.answered and not self.trouble


@dataclass
class Snapshot:
    """A conversation's state as Rasa held it at one moment."""

    user_events: int
    customer_slot: str | None


@dataclass
class LoadReport:
    conversations: int
    messages_per_conversation: int
    exchanges: list[Exchange] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    duration_s: float = 0.0
    stored_user_events: dict[str, int] = field(default_factory=dict)
    events_drained_after_s: float | None = None
    before_redis_kill: dict[str, Snapshot] = field(default_factory=dict)
    after_load: dict[str, Snapshot | None] = field(default_factory=dict)
    stack_restarts: list[str] = field(default_factory=list)
    log_tracebacks: dict[str, int] = field(default_factory=dict)

    # ----- figures -------------------------------------------------------------------------

    def _count(self, predicate) -> int:
        return sum(1 for e in self.exchanges if predicate(e))

    def processed_by_conversation(self) -> Counter:
        return Counter(e.conversation for e in self.exchanges if e.processed)

    def lost_events(self) -> dict[str, int]:
        """Conversations with fewer stored `user` events than messages processed."""
        lost = {}
        for conv, processed in self.processed_by_conversation().items():
            stored = self.stored_user_events.get(conv, 0)
            if stored < processed:
                lost[conv] = processed - stored
        return lost

    def state_lost(self) -> list[str]:
        """Conversations whose tracker, after the load, lacks what it held before Redis died."""
        lost = []
        for conv, before in self.before_redis_kill.items():
            after = self.after_load.get(conv)
            if after is None:
                if before.user_events:
                    lost.append(conv)
                continue
            if after.user_events < min(before.user_events, WINDOW_TURNS) or (
                before.customer_slot and after.customer_slot != before.customer_slot
            ):
                lost.append(conv)
        return lost

    def tracker_behind(self) -> list[str]:
        """Conversations whose tracker holds fewer user turns than the messages processed (or
        than the tracker store's window keeps, for longer conversations: the whole history is
        in PostgreSQL, where ``user_events_stored`` counts it)."""
        processed = self.processed_by_conversation()
        return [
            conv
            for conv, count in processed.items()
            if (self.after_load.get(conv) or Snapshot(0, None)).user_events
            < min(count, WINDOW_TURNS)
        ]

    def phase(self, exchange: Exchange, grace_s: float = 5.0) -> str:
        """The fault whose outage (kill to recovery, plus a grace) the message was sent in."""
        for fault in self.faults:
            back = fault.killed_at + (fault.recovered_after_s or float("inf")) + grace_s
            if (
                fault.killed_at <= exchange.sent_at + exchange.latency_s
                and exchange.sent_at <= back
            ):
                return fault.service
        return "no fault"

    def failures_by_phase(self) -> dict[str, dict[str, int]]:
        """Where the bad answers came from: which outage, or none."""
        found: dict[str, Counter] = {}
        for e in self.exchanges:
            if e.status is None:
                kind = e.error or "no answer"
            elif e.status >= 400:
                kind = f"HTTP {e.status}"
            elif not e.answered:
                kind = "empty"
            elif e.trouble:
                kind = "having trouble"
            else:
                continue
            found.setdefault(self.phase(e), Counter())[kind] += 1
        return {phase: dict(kinds) for phase, kinds in found.items()}

    def figures(self) -> dict[str, Any]:
        latencies = [e.latency_s for e in self.exchanges if e.status is not None]
        lost = self.lost_events()
        processed = self.processed_by_conversation()
        return {
            "conversations": self.conversations,
            "messages_per_conversation": self.messages_per_conversation,
            "messages_sent": len(self.exchanges),
            "answered": self._count(lambda e: e.answered),
            "answered_normally": self._count(lambda e: e.processed),
            "trouble_answers": self._count(lambda e: e.trouble),
            "empty_answers": self._count(lambda e: e.status == 200 and not e.answered),
            "http_5xx": self._count(lambda e: e.status is not None and e.status >= 500),
            "http_4xx": self._count(lambda e: e.status is not None and 400 <= e.status < 500),
            "transport_errors": self._count(lambda e: e.status is None),
            "latency_p50_s": percentile(latencies, 0.5),
            "latency_p99_s": percentile(latencies, 0.99),
            "latency_max_s": max(latencies) if latencies else None,
            "duration_s": round(self.duration_s, 1),
            "faults": [f.describe() for f in self.faults],
            "user_events_expected": sum(self.processed_by_conversation().values()),
            "user_events_stored": sum(self.stored_user_events.values()),
            "events_drained_after_s": self.events_drained_after_s,
            "user_events_lost": sum(lost.values()),
            "conversations_with_lost_events": len(lost),
            "conversations_state_lost_after_redis": len(self.state_lost()),
            "conversations_tracker_behind": {
                conv: {
                    "processed": processed[conv],
                    "in_tracker": (self.after_load.get(conv) or Snapshot(0, None)).user_events,
                }
                for conv in self.tracker_behind()
            },
            "failures_by_phase": self.failures_by_phase(),
            "stack_restarted_by_harness": self.stack_restarts,
            "server_log_tracebacks": self.log_tracebacks,
        }

    def problems(self) -> list[str]:
        """Each check of the issue that does not hold, in words an on-call engineer can act on."""
        f = self.figures()
        found = []
        for fault in self.faults:
            if fault.restarted_by != "runner":
                found.append(f"not restarted by the runner: {fault.describe()}")
            if not fault.during_load:
                found.append(f"not under load (lengthen the load): {fault.describe()}")
        if self.stack_restarts:
            found.append(
                f"the stack died and the harness had to start it again: {self.stack_restarts}"
            )
        if f["http_5xx"]:
            found.append(f"{f['http_5xx']} answers were HTTP 5xx")
        if f["transport_errors"]:
            kinds = Counter(e.error for e in self.exchanges if e.status is None)
            found.append(f"{f['transport_errors']} messages got no HTTP answer: {dict(kinds)}")
        if f["empty_answers"]:
            found.append(f"{f['empty_answers']} messages got an empty answer (200 [])")
        if f["http_4xx"]:
            found.append(f"{f['http_4xx']} well-formed messages were refused with 4xx")
        if f["user_events_lost"]:
            found.append(
                f"{f['user_events_lost']} user events answered but never stored, in "
                f"{f['conversations_with_lost_events']} conversations"
            )
        if f["conversations_tracker_behind"]:
            found.append(
                f"{len(f['conversations_tracker_behind'])} conversations hold fewer user turns "
                "in their tracker than messages answered normally"
            )
        if f["conversations_state_lost_after_redis"]:
            found.append(
                f"{f['conversations_state_lost_after_redis']} conversations lost state they had "
                "before Redis was killed"
            )
        return found


class FaultPlan:
    """Kills each service once, when the load has sent its share of the messages."""

    def __init__(
        self, stack: IsolatedStack, total: int, services: tuple[str, ...], at: tuple[float, ...]
    ) -> None:
        self.stack = stack
        self.total = total
        self.plan = list(zip(services, at, strict=False))
        self.sent = 0
        self.progress = asyncio.Event()
        self.faults: list[Fault] = []
        self.before_redis_kill: dict[str, Snapshot] = {}
        self.conversations: dict[str, str | None] = {}

    def message_sent(self) -> None:
        self.sent += 1
        self.progress.set()

    async def run(self, done: asyncio.Event) -> None:
        for service, share in self.plan:
            while self.sent < share * self.total and not done.is_set():
                self.progress.clear()
                waiter = asyncio.ensure_future(self.progress.wait())
                finished = asyncio.ensure_future(done.wait())
                await asyncio.wait({waiter, finished}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                finished.cancel()
            if service == "redis":
                self.before_redis_kill = await asyncio.to_thread(
                    snapshots, self.stack, list(self.conversations)
                )
            fault = self.stack.kill(service)
            fault.during_load = not done.is_set()
            self.faults.append(fault)
            await asyncio.to_thread(self.stack.wait_recovered, fault)


def snapshot(stack: IsolatedStack, conv: str) -> Snapshot | None:
    tracker = stack.tracker(conv)
    if tracker is None:
        return None
    events = tracker.get("events") or []
    slots = tracker.get("slots") or {}
    return Snapshot(
        user_events=sum(1 for e in events if e.get("event") == "user"),
        customer_slot=slots.get("customer_id"),
    )


def snapshots(stack: IsolatedStack, conversations: list[str]) -> dict[str, Snapshot]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = dict(
            zip(conversations, pool.map(lambda c: snapshot(stack, c), conversations), strict=True)
        )
    return {conv: snap for conv, snap in found.items() if snap is not None}


async def _converse(
    session: aiohttp.ClientSession,
    stack: IsolatedStack,
    sender: str,
    customer: str | None,
    lines: list[str],
    think_s: float,
    plan: FaultPlan,
    out: list[Exchange],
    rng: random.Random,
) -> None:
    conv = conversation_id(sender, customer)
    for text in lines:
        headers = {"Authorization": f"Bearer {stack.token(customer)}"} if customer else {}
        started = time.monotonic()
        status, replies, error = None, [], ""
        try:
            async with session.post(
                f"{stack.base_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text},
                headers=headers,
            ) as reply:
                status = reply.status
                body = await reply.read()
                if status == 200:
                    try:
                        parsed = json.loads(body)
                        replies = parsed if isinstance(parsed, list) else []
                    except ValueError:
                        error = "200 with a body that is not JSON"
        except asyncio.TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = type(exc).__name__
        out.append(
            Exchange(conv, text, status, replies, time.monotonic() - started, error, started)
        )
        plan.message_sent()
        await asyncio.sleep(think_s * (0.5 + rng.random()))


async def _load(
    stack: IsolatedStack,
    conversations: int,
    messages: int,
    think_s: float,
    services: tuple[str, ...],
    seed: int,
) -> tuple[list[Exchange], FaultPlan, float]:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:6]
    plan = FaultPlan(stack, conversations * messages, services, FAULT_AT[: len(services)])
    people = []
    for i in range(conversations):
        # Every other conversation is a signed-in customer (with a token); the rest visitors.
        customer = f"cust-{(i // 2) % LOAD_CUSTOMERS + 1:04d}" if i % 2 == 0 else None
        sender = f"load-{run}-{i}"
        plan.conversations[conversation_id(sender, customer)] = customer
        people.append((sender, customer, script(rng, messages, customer)))
    out: list[Exchange] = []
    done = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S, connect=10)
    connector = aiohttp.TCPConnector(limit=conversations + 4, force_close=False)
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        faults = asyncio.ensure_future(plan.run(done))
        await asyncio.gather(
            *(
                _converse(session, stack, s, c, lines, think_s, plan, out, random.Random(seed + n))
                for n, (s, c, lines) in enumerate(people)
            )
        )
        duration = time.monotonic() - started
        done.set()
        await faults  # a fault not reached under load is still injected and awaited
    return out, plan, duration


def wait_for_events(
    stack: IsolatedStack, conversations: list[str], timeout_s: float = 120.0
) -> tuple[dict[str, int], float | None]:
    """`user` events stored per conversation, once the broker has stopped adding any."""
    started = time.monotonic()
    last, stable_since = None, None
    counts: dict[str, int] = {}
    while time.monotonic() - started < timeout_s:
        try:
            rows = stack.query(
                "SELECT sender_id, count(*) FROM events WHERE sender_id = ANY(%s) "
                "AND data::json->>'event' = 'user' GROUP BY sender_id",
                conversations,
            )
        except Exception:  # PostgreSQL still coming back
            time.sleep(2)
            continue
        counts = {sender: int(n) for sender, n in rows}
        total = sum(counts.values())
        if total != last:
            last, stable_since = total, time.monotonic()
        elif time.monotonic() - (stable_since or 0) >= 10:
            return counts, stable_since - started if stable_since else None
        time.sleep(2)
    return counts, None


def run_load(
    stack: IsolatedStack,
    conversations: int = 50,
    messages: int = 20,
    think_s: float = 0.3,
    faults: tuple[str, ...] = FAULTS,
    seed: int = 14,
) -> LoadReport:
    """The whole scenario; the stack is left running (restarted if a fault killed it)."""
    offsets = stack.log_offsets()
    exchanges, plan, duration = asyncio.run(
        _load(stack, conversations, messages, think_s, faults, seed)
    )
    report = LoadReport(conversations, messages, exchanges, plan.faults, duration)
    report.log_tracebacks = stack.log_errors_since(offsets)
    if stack.ensure_running("after the load with faults"):
        report.stack_restarts = stack.restarts[-1:]
    report.before_redis_kill = plan.before_redis_kill
    convs = list(plan.conversations)
    report.stored_user_events, report.events_drained_after_s = wait_for_events(stack, convs)
    report.after_load = {conv: snapshot(stack, conv) for conv in convs}
    return report
