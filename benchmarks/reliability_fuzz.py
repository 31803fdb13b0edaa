"""Fuzz: Hypothesis-generated requests against the REST and socket.io channels, while a
bystander says "hi" every 200 ms and its latency is recorded.

The inputs are generated before any is sent (so generating them does not slow the bystander),
sent by a few concurrent workers, and judged afterwards, without shrinking: the figures are
what a stream of hostile clients does to a running bot. A server error is a 5xx, a reset or
dropped connection, a request with no answer within the timeout, a socket the server
disconnects, a "having trouble" answer while every store is up (the server failed on the
input, politely), or a traceback in a server log.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import requests
import socketio
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from benchmarks.reliability_load import TROUBLE
from benchmarks.reliability_stack import HTTP_TIMEOUT_S, IsolatedStack, percentile

INTENTS = (
    "greet",
    "affirm",
    "deny",
    "inform",
    "identify",
    "order_status",
    "delete_my_data",
    "opt_out",
    "ask_my_data",
    "rate",
    "restart",
    "session_start",
    "nlu_fallback",
)
SENDER_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@:-"
BYSTANDER_EVERY_S = 0.2
BYSTANDER_TURNS_PER_SENDER = 100  # a realistic conversation length, not one 5,000-turn tracker

# ----- strategies --------------------------------------------------------------------------

any_char = st.characters(codec=None, categories=None)  # every code point, surrogates included
control = st.characters(max_codepoint=0x1F)
small_text = st.text(max_size=40)
odd_text = st.one_of(
    st.text(alphabet=any_char, max_size=200),
    st.text(alphabet=control, max_size=30),
    st.text(alphabet=st.sampled_from("\x00\u202e\u200b\ufeff\u0301\r\n\t🙂𝔸ﷺ"), max_size=50),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | small_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(small_text, inner, max_size=5),
    max_leaves=20,
)


@st.composite
def huge_text(draw: st.DrawFn) -> str:
    """Long runs, around and far beyond the message cap; a run of letters and digits is what
    made the email pattern quadratic."""
    chunk = draw(st.one_of(st.text(min_size=1, max_size=6), st.sampled_from(["a1", "x", "ab.c"])))
    size = draw(st.one_of(st.integers(1990, 2010), st.integers(2011, 120_000)))
    tail = draw(st.sampled_from(["", "@", "@example.com", " where is my order"]))
    return (chunk * (size // len(chunk) + 1))[:size] + tail


@st.composite
def payload(draw: st.DrawFn) -> str:
    """Rasa's `/intent{"entity": value}` syntax, well-formed or not."""
    intent = draw(st.one_of(st.sampled_from(INTENTS), small_text))
    tail = draw(
        st.one_of(
            st.just(""),
            st.dictionaries(
                st.one_of(st.sampled_from(["customer_id", "csat", "order_number"]), small_text),
                json_values,
                max_size=4,
            ).map(json.dumps),
            st.text(max_size=30).map(lambda s: "{" + s),
        )
    )
    return "/" + intent + tail


messages = st.one_of(
    small_text,
    odd_text,
    payload(),
    huge_text(),
    st.sampled_from(["", " ", "hi\x00there", "/", "hi", "where is my order?"]),
)
senders = st.one_of(
    st.text(alphabet=SENDER_CHARS, min_size=1, max_size=128),
    st.text(alphabet=any_char, max_size=300),
    st.text(alphabet=SENDER_CHARS, min_size=129, max_size=6000),
    st.sampled_from(["", "a\x00b", "rest:x", "x+y", "../../etc", "web:" + "0" * 32]),
    json_values,
)


@dataclass(frozen=True)
class RestCase:
    body: bytes
    content_type: str
    authorization: str | None


@st.composite
def rest_case(draw: st.DrawFn, valid_tokens: tuple[str, ...]) -> RestCase:
    shape = draw(st.sampled_from(["object", "object", "object", "raw", "json"]))
    if shape == "object":
        body: dict[str, Any] = {}
        if draw(st.integers(0, 9)):
            body["sender"] = draw(senders)
        if draw(st.integers(0, 9)):
            body["message"] = draw(st.one_of(messages, messages, json_values))
        if draw(st.booleans()):
            body["metadata"] = draw(st.one_of(json_values, odd_text))
        body.update(draw(st.dictionaries(small_text, json_values, max_size=2)))
        text = json.dumps(body, ensure_ascii=draw(st.booleans()))
        data = text.encode("utf-8", "surrogatepass")
    elif shape == "json":
        value = draw(st.one_of(json_values, st.integers(1, 50_000).map(lambda n: [[0]] * n)))
        data = json.dumps(value).encode()
    else:
        data = draw(
            st.one_of(
                st.binary(max_size=3000),
                st.integers(1, 100_000).map(lambda n: b"[" * n),
                st.integers(1, 100_000).map(lambda n: b'{"a":' * n),
                st.builds(
                    lambda s, cut: json.dumps({"sender": s, "message": s}).encode()[:cut],
                    small_text,
                    st.integers(0, 60),
                ),
                st.just(b'{"sender": "x", "message": "\\ud800"}'),
                st.just(b'{"sender": "x", "message": "a"' + b" " * 1_000_000 + b"}"),
            )
        )
    content_type = draw(
        st.sampled_from(["application/json", "application/json", "text/plain", "", "x/y"])
    )
    authorization = draw(
        st.one_of(
            st.none(),
            st.none(),
            st.sampled_from(valid_tokens).map(lambda t: f"Bearer {t}"),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=400),
            st.just("Bearer " + "A" * 8000),
        )
    )
    return RestCase(data, content_type, authorization)


@dataclass(frozen=True)
class SocketCase:
    session_request: Any
    message: Any  # the user_uttered payload, or a marker to build a well-formed one
    well_formed: bool


@st.composite
def socket_case(draw: st.DrawFn, valid_tokens: tuple[str, ...]) -> SocketCase:
    request = draw(
        st.one_of(
            st.none(),
            json_values,
            st.fixed_dictionaries({"session_id": st.one_of(senders, st.just("resume"))}),
        )
    )
    if draw(st.integers(0, 3)) == 0:
        return SocketCase(request, draw(st.one_of(json_values, odd_text)), False)
    metadata = draw(
        st.one_of(
            st.none(),
            json_values,
            odd_text,
            st.sampled_from(valid_tokens).map(lambda t: {"customer_token": t}),
            small_text.map(lambda t: {"customer_token": t}),
        )
    )
    text = draw(st.one_of(messages, messages, messages, json_values))
    session = draw(st.sampled_from(["confirmed"] * 4 + ["fuzzed"]))
    if session == "fuzzed":
        session = draw(senders)
    return SocketCase(
        request,
        {"message": text, "session_id": session, "metadata": metadata},
        session == "confirmed" and isinstance(text, str) and bool(text.strip()),
    )


def generate(count: int, valid_tokens: tuple[str, ...], rest_share: float, base_seed: int):
    """`count` inputs, about `rest_share` of them REST cases, the rest socket.io cases."""
    rest_count = round(count * rest_share)
    found: list[Any] = []

    def collect(strategy: st.SearchStrategy, wanted: int, seed_value: int) -> None:
        batch = 500
        done = 0
        while done < wanted:
            size = min(batch, wanted - done)
            before = len(found)

            @seed(seed_value + done)
            @settings(
                max_examples=size,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(strategy)
            def draw_all(case: Any) -> None:
                found.append(case)

            draw_all()
            done += max(1, len(found) - before)

    collect(rest_case(valid_tokens), rest_count, base_seed)
    collect(socket_case(valid_tokens), count - rest_count, base_seed + 1_000_000)
    return found[:count]


# ----- the run -----------------------------------------------------------------------------


@dataclass
class FuzzReport:
    rest_cases: int = 0
    socket_cases: int = 0
    rest_status: Counter = field(default_factory=Counter)
    rest_errors: Counter = field(default_factory=Counter)
    socket_errors: Counter = field(default_factory=Counter)
    socket_replies: int = 0
    socket_well_formed: int = 0
    socket_no_reply: int = 0
    trouble_answers: Counter = field(default_factory=Counter)
    log_errors: dict[str, int] = field(default_factory=dict)
    bystander_latencies: list[float] = field(default_factory=list)
    bystander_baseline: list[float] = field(default_factory=list)  # before the fuzz began
    bystander_errors: Counter = field(default_factory=Counter)
    bystander_empty: int = 0
    bystander_slow: list[tuple[float, float]] = field(default_factory=list)  # (at, latency)
    log_tracebacks: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    stack_restarts: list[str] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)  # a heap of the slowest
    started_at: float = 0.0  # time.monotonic() when the fuzz began
    failed_inputs: list[str] = field(default_factory=list)  # the first few server errors

    def timed(self, elapsed_s: float, what: str, keep: int = 12) -> None:
        """Remember an input among the slowest to answer, to say which inputs cost most."""
        at = time.monotonic() - elapsed_s - self.started_at
        entry = (round(elapsed_s, 2), f"{what}, sent at {at:.0f} s")
        if len(self.slowest) < keep:
            heapq.heappush(self.slowest, entry)
        elif entry > self.slowest[0]:
            heapq.heapreplace(self.slowest, entry)

    @property
    def server_errors(self) -> int:
        return (
            sum(n for status, n in self.rest_status.items() if status >= 500)
            + sum(self.rest_errors.values())
            + sum(self.socket_errors.values())
            + sum(self.trouble_answers.values())
        )

    def figures(self) -> dict[str, Any]:
        lat = self.bystander_latencies
        return {
            "inputs": self.rest_cases + self.socket_cases,
            "rest_inputs": self.rest_cases,
            "socketio_inputs": self.socket_cases,
            "rest_status": {str(k): v for k, v in sorted(self.rest_status.items())},
            "rest_transport_errors": dict(self.rest_errors),
            "socketio_errors": dict(self.socket_errors),
            "socketio_well_formed_messages": self.socket_well_formed,
            "socketio_well_formed_without_reply": self.socket_no_reply,
            "trouble_answers_without_outage": dict(self.trouble_answers),
            "server_errors": self.server_errors,
            "server_log_tracebacks": self.log_tracebacks,
            "server_log_error_lines": self.log_errors,
            "bystander_baseline_p50_s": percentile(self.bystander_baseline, 0.5),
            "bystander_baseline_p99_s": percentile(self.bystander_baseline, 0.99),
            "bystander_messages": len(lat) + sum(self.bystander_errors.values()),
            "bystander_p50_s": percentile(lat, 0.5),
            "bystander_p99_s": percentile(lat, 0.99),
            "bystander_max_s": max(lat) if lat else None,
            "bystander_over_1s_at": [f"{at:.0f} s: {lat:.2f} s" for at, lat in self.bystander_slow],
            "bystander_errors": dict(self.bystander_errors),
            "bystander_empty_answers": self.bystander_empty,
            "duration_s": round(self.duration_s, 1),
            "stack_restarted_by_harness": self.stack_restarts,
            "failed_inputs": self.failed_inputs,
            "slowest_inputs": [f"{s:.2f} s: {what}" for s, what in sorted(self.slowest)[::-1]],
        }

    def problems(self, bystander_p99_limit_s: float = 1.0) -> list[str]:
        f = self.figures()
        found = []
        if f["server_errors"]:
            found.append(
                f"{f['server_errors']} server errors: REST statuses {f['rest_status']}, "
                f"REST transport {f['rest_transport_errors']}, socket.io {f['socketio_errors']}, "
                f"'having trouble' answers with every store up {dict(self.trouble_answers)}"
            )
        if self.log_tracebacks:
            found.append(f"tracebacks in the server logs during the fuzz: {self.log_tracebacks}")
        p99 = f["bystander_p99_s"]
        if p99 is None or p99 >= bystander_p99_limit_s:
            found.append(f"bystander p99 {p99} s is not under {bystander_p99_limit_s} s")
        if self.bystander_errors or self.bystander_empty:
            found.append(
                f"bystander: errors {dict(self.bystander_errors)}, "
                f"empty answers {self.bystander_empty}"
            )
        if self.stack_restarts:
            found.append(f"the stack died during the fuzz: {self.stack_restarts}")
        return found


class Bystander(threading.Thread):
    """An ordinary customer saying "hi" every 200 ms on its own connection."""

    def __init__(self, stack: IsolatedStack, report: FuzzReport) -> None:
        super().__init__(name="bystander", daemon=True)
        self.stack, self.report = stack, report
        self.stopping = threading.Event()
        self.fuzzing = threading.Event()  # set when the fuzz starts: latencies count from then
        self.fuzz_started = 0.0

    def run(self) -> None:
        session = requests.Session()
        run = uuid.uuid4().hex[:6]
        turn = 0
        while not self.stopping.is_set():
            sender = f"bystander-{run}-{turn // BYSTANDER_TURNS_PER_SENDER}"
            started = time.monotonic()
            try:
                reply = session.post(
                    f"{self.stack.base_url}/webhooks/rest/webhook",
                    json={"sender": sender, "message": "hi"},
                    timeout=HTTP_TIMEOUT_S,
                )
                elapsed = time.monotonic() - started
                if reply.status_code != 200:
                    self.report.bystander_errors[f"HTTP {reply.status_code}"] += 1
                else:
                    if self.fuzzing.is_set():
                        self.report.bystander_latencies.append(elapsed)
                        if elapsed >= 1.0 and len(self.report.bystander_slow) < 40:
                            at = started - self.fuzz_started
                            self.report.bystander_slow.append((at, elapsed))
                    else:
                        self.report.bystander_baseline.append(elapsed)
                    if not reply.json():
                        self.report.bystander_empty += 1
                    elif TROUBLE.search(reply.text):
                        self.report.bystander_errors["having trouble"] += 1
            except requests.RequestException as exc:
                elapsed = time.monotonic() - started
                self.report.bystander_errors[type(exc).__name__] += 1
            turn += 1
            self.stopping.wait(max(0.0, BYSTANDER_EVERY_S - elapsed))
        session.close()


async def _send_rest(session: aiohttp.ClientSession, url: str, case: RestCase, report: FuzzReport):
    headers = {}
    if case.content_type:
        headers["Content-Type"] = case.content_type
    if case.authorization is not None:
        headers["Authorization"] = case.authorization
    started = time.monotonic()
    outcome = "no answer"
    try:
        async with session.post(url, data=case.body, headers=headers) as reply:
            body = await reply.read()
            outcome = f"HTTP {reply.status}"
            report.rest_status[reply.status] += 1
            # No store is down during the fuzz: a "having trouble" answer is the server
            # failing on the input, politely.
            if reply.status == 200 and TROUBLE.search(body.decode("utf-8", "replace")):
                report.trouble_answers["rest"] += 1
    except asyncio.TimeoutError:
        report.rest_errors["timeout"] += 1
        outcome = "timeout"
    except (aiohttp.ClientError, ConnectionError) as exc:
        report.rest_errors[type(exc).__name__] += 1
        outcome = f"{type(exc).__name__}: {exc}"
    finally:
        what = f"REST {outcome[:120]} {describe_body(case.body)}"
        report.timed(time.monotonic() - started, what)
        if not outcome.startswith("HTTP ") and len(report.failed_inputs) < 20:
            report.failed_inputs.append(what)


def describe_body(body: bytes) -> str:
    """A short account of a request body: its size, and its sender and message if any."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return f"{len(body):,} bytes, not JSON: {body[:40]!r}"
    if not isinstance(value, dict):
        return f"{len(body):,} bytes, JSON {type(value).__name__}"
    message = value.get("message")
    shown = repr(message)[:60] if not isinstance(message, str) else repr(message[:60])
    size = f" ({len(message):,} chars)" if isinstance(message, str) else ""
    return f"{len(body):,} bytes, sender {repr(value.get('sender'))[:40]}, message {shown}{size}"


class SocketWorker:
    """One web chat client that keeps its socket open across inputs, as a page would."""

    def __init__(self, stack: IsolatedStack, report: FuzzReport) -> None:
        self.stack, self.report = stack, report
        self.client: socketio.AsyncClient | None = None
        self.confirmed: asyncio.Queue[str] = asyncio.Queue()
        self.replies: asyncio.Queue[Any] = asyncio.Queue()
        self.session_id = ""
        self.closing = False
        self.dropped = False

    async def connect(self) -> bool:
        client = socketio.AsyncClient(reconnection=False, request_timeout=10)

        @client.on("session_confirm")
        async def on_confirm(data: Any) -> None:
            await self.confirmed.put(data)

        @client.on("bot_uttered")
        async def on_reply(data: Any) -> None:
            await self.replies.put(data)

        @client.event
        async def disconnect(*_reason: Any) -> None:
            if not self.closing:
                self.dropped = True

        try:
            await asyncio.wait_for(
                client.connect(
                    self.stack.base_url,
                    socketio_path="/socket.io",
                    # engineio 4.15 needs aiohttp>=3.10 for websockets; Rasa pins 3.9.
                    transports=["polling"],
                    headers={"Origin": self.stack.base_url},
                    wait_timeout=10,
                ),
                timeout=15,
            )
        except (socketio.exceptions.ConnectionError, asyncio.TimeoutError) as exc:
            self.report.socket_errors[f"connect: {type(exc).__name__}"] += 1
            return False
        self.client, self.dropped = client, False
        return True

    async def close(self) -> None:
        self.closing = True
        if self.client is not None:
            await self.client.disconnect()

    async def send(self, case: SocketCase) -> None:
        connected = self.client is not None and self.client.connected
        if not connected and not await self.connect():
            return
        assert self.client is not None
        request = case.session_request
        if isinstance(request, dict) and request.get("session_id") == "resume":
            request = {"session_id": self.session_id}
        _drain(self.confirmed)
        _drain(self.replies)
        try:
            await self.client.emit("session_request", request)
            self.session_id = await asyncio.wait_for(self.confirmed.get(), timeout=10)
        except asyncio.TimeoutError:
            self.report.socket_errors["no session_confirm"] += 1
        except (socketio.exceptions.SocketIOError, ConnectionError) as exc:
            self.report.socket_errors[f"emit: {type(exc).__name__}"] += 1
        message = case.message
        if isinstance(message, dict) and message.get("session_id") == "confirmed":
            message = {**message, "session_id": self.session_id}
        try:
            await self.client.emit("user_uttered", message)
        except (socketio.exceptions.SocketIOError, ConnectionError) as exc:
            self.report.socket_errors[f"emit: {type(exc).__name__}"] += 1
        if case.well_formed:
            self.report.socket_well_formed += 1
            started = time.monotonic()
            text = message.get("message", "")
            what = f"socket.io message {text[:60]!r} ({len(text):,} chars)"
            try:
                reply = await asyncio.wait_for(self.replies.get(), timeout=HTTP_TIMEOUT_S)
                self.report.socket_replies += 1
                if TROUBLE.search(json.dumps(reply)):
                    self.report.trouble_answers["socket.io"] += 1
            except asyncio.TimeoutError:
                self.report.socket_no_reply += 1
                what += ", no reply"
            self.report.timed(time.monotonic() - started, what)
        else:
            await asyncio.sleep(0.02)
        if self.dropped:
            self.report.socket_errors["disconnected by the server"] += 1
            self.client = None


def _drain(queue: asyncio.Queue) -> None:
    while not queue.empty():
        queue.get_nowait()


async def _fuzz(stack: IsolatedStack, cases: list[Any], workers: int, report: FuzzReport):
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for case in cases:
        queue.put_nowait(case)
    url = f"{stack.base_url}/webhooks/rest/webhook"
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S, connect=10)

    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def worker() -> None:
            sockets = SocketWorker(stack, report)
            try:
                while not queue.empty():
                    case = queue.get_nowait()
                    if isinstance(case, RestCase):
                        report.rest_cases += 1
                        await _send_rest(session, url, case, report)
                    else:
                        report.socket_cases += 1
                        await sockets.send(case)
            finally:
                await sockets.close()

        await asyncio.gather(*(worker() for _ in range(workers)))


def run_fuzz(
    stack: IsolatedStack,
    examples: int = 10_000,
    workers: int = 4,
    rest_share: float = 0.7,
    base_seed: int = 14,
    baseline_s: float = 10.0,
) -> FuzzReport:
    tokens = tuple(stack.token(f"cust-{n:04d}") for n in (1, 2, 3))
    cases = generate(examples, tokens, rest_share, base_seed)
    report = FuzzReport()
    offsets = stack.log_offsets()
    bystander = Bystander(stack, report)
    bystander.start()
    time.sleep(baseline_s)  # the bystander alone first: what the machine gives without fuzz
    started = bystander.fuzz_started = report.started_at = time.monotonic()
    bystander.fuzzing.set()
    try:
        asyncio.run(_fuzz(stack, cases, workers, report))
    finally:
        bystander.stopping.set()
        bystander.join(timeout=HTTP_TIMEOUT_S + 5)
    report.duration_s = time.monotonic() - started
    report.log_tracebacks = stack.log_errors_since(offsets)
    report.log_errors = stack.log_errors_since(offsets, b" ERROR ")
    if stack.ensure_running("after the fuzz"):
        report.stack_restarts = stack.restarts[-1:]
    return report
