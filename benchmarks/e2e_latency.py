"""End-to-end latency of our bot against plain Rasa, measured side by side in one run.

Both bots run on this machine at the same time and use the same Redis (tracker and lock
stores) and PostgreSQL (event broker): ours as an isolated `python -m stack run`
(benchmarks/reliability_stack.py) with its own embedded servers; plain Rasa as the project
`rasa init` makes, with Rasa's own Redis stores and SQL event broker pointed at those servers
(its own Redis db and key prefix, its own database). So the two columns differ by what our
channels, stores, broker and actions cost, not by hardware or store servers.

Run:  .venv/bin/python -m benchmarks.e2e_latency [--json results/e2e_latency.json]
      .venv/bin/python -m benchmarks.e2e_latency --sequential 30 --duration 8 \\
          --concurrency 20 --long-turns 60 --plain-dir /tmp/plain-rasa   # a quick run

It needs our trained model (models/shopbot.tar.gz: `make train`). Plain Rasa is trained
once by `rasa init` (1-2 min); --plain-dir keeps that folder for the next run.

Traffic is REST (POST /webhooks/rest/webhook) from anonymous senders, which our REST channel
allows (channels/rest.py: without a token the conversation is `rest:<sender>`), so neither
bot looks a customer up. Each conversation says "hello", "I am sad", "yes", "great", "bye"
in turn, repeating. An answer that is `[]`, a non-200, a transport error or our "having
trouble" reply counts as an error, never as a latency sample.

Phases, each for plain Rasa, then ours: sequential (one conversation at a time); closed loop
with 20 and 50 concurrent conversations for --duration seconds (throughput, latency, CPU per
core); one long conversation (latency of the last 20 turns over the first 20); memory (RSS);
start-up (ours: its Rasa server SIGKILLed and restarted by the stack's supervisor; plain: a
fresh `rasa run`), probed every 0.1 s until 5 s after the first real answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import psutil
import psycopg2
import redis
import requests
import yaml

from benchmarks.reliability_load import TROUBLE
from benchmarks.reliability_stack import PROJECT_ROOT, IsolatedStack, percentile
from stack.services import free_tcp_port

SCRIPT = ("hello", "I am sad", "yes", "great", "bye")
HTTP_TIMEOUT_S = 30.0
PROBE_EVERY_S = 0.1
PROBE_AFTER_ANSWER_S = 5.0
STARTUP_GIVE_UP_S = 300.0
PLAIN_READY_TIMEOUT_S = 300.0
PLAIN_TRAIN_TIMEOUT_S = 1800.0
PLAIN_EVENTS_DB = "plain_rasa_events"
PLAIN_KEY_PREFIX = "plainrasa"  # Rasa ignores a prefix that is not alphanumeric
LONG_WINDOW = 20
SETTLE_S = 2.0  # pause between phases, so one bot's background writes do not land in the next
RASA = Path(sys.executable).parent / "rasa"
# Variables of our stack that plain Rasa must not see (it reads none of them, but its own
# components might one day, and the comparison must not depend on that).
_OUR_VARIABLES = ("DATABASE_URL", "REDIS_URL", "STACK_DATA_DIR", "PYTHONPATH")

_STARTED = time.monotonic()


def say_progress(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:5.0f} s] {message}", flush=True)


# ----- one request ---------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request and what came back; `kind` is "ok" or the error it counts as."""

    kind: str
    latency_s: float
    sent_at: float  # time.monotonic()
    status: int | None = None
    retry_after: bool = False

    @property
    def done_at(self) -> float:
        return self.sent_at + self.latency_s


def classify(status: int, body: bytes) -> str:
    """A real answer is a 200 with a non-empty list that is not our "having trouble" reply."""
    if status != 200:
        return "non-200"
    try:
        replies = json.loads(body)
    except ValueError:
        return "not JSON"
    if not isinstance(replies, list) or not replies:
        return "empty"
    texts = [str(r.get("text") or "") for r in replies if isinstance(r, dict)]
    return "trouble" if any(TROUBLE.search(t) for t in texts) else "ok"


async def post(session: aiohttp.ClientSession, base_url: str, sender: str, text: str) -> Exchange:
    """POST one message; errors are returned as kinds, never raised, so a phase always ends."""
    started = time.monotonic()
    try:
        async with session.post(
            f"{base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
        ) as reply:
            status, retry_after = reply.status, "Retry-After" in reply.headers
            body = await reply.read()
    except asyncio.TimeoutError:
        return Exchange("timeout", time.monotonic() - started, started)
    except aiohttp.ClientConnectorError as exc:
        refused = isinstance(exc.os_error, ConnectionRefusedError)
        return Exchange(
            "refused" if refused else f"connect error ({type(exc.os_error).__name__})",
            time.monotonic() - started,
            started,
        )
    except aiohttp.ClientError as exc:
        return Exchange(
            f"transport error ({type(exc).__name__})", time.monotonic() - started, started
        )
    latency = time.monotonic() - started
    return Exchange(classify(status, body), latency, started, status, retry_after)


def post_sync(base_url: str, sender: str, text: str, timeout_s: float) -> str:
    """One message outside an event loop (store checks); returns its kind."""
    try:
        reply = requests.post(
            f"{base_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=timeout_s,
        )
    except requests.RequestException as exc:
        return type(exc).__name__
    return classify(reply.status_code, reply.content)


# ----- the two bots --------------------------------------------------------------------------


@dataclass
class Bot:
    """A bot under test: where it answers and which processes are its own (role -> pid)."""

    key: str
    label: str
    base_url: str
    pids: Callable[[], dict[str, int | None]]


def listener_pid(port: int) -> int | None:
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


def run_logged(command: list[str], cwd: Path, log_file: Path, timeout_s: float) -> None:
    """Run a command in its own process group, output to a log; kill the group on any exit."""
    with open(log_file, "ab") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=plain_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        code = process.wait(timeout=timeout_s)
    finally:
        kill_group(process)
    if code != 0:
        raise RuntimeError(f"`{' '.join(command[:3])}` exited {code}:\n{tail(log_file)}")


def kill_group(process: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM the process group, SIGKILL it after the grace: nothing it spawned survives."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait_s)
            # The leader is gone; SIGKILL the rest of its group, if any is left.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def plain_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _OUR_VARIABLES}
    env.update({"RASA_TELEMETRY_ENABLED": "false", "PYTHONUNBUFFERED": "1"})
    return env


def with_path(url: str, path: str) -> str:
    return urlsplit(url)._replace(path=path).geturl()


@dataclass
class PlainRasa:
    """Rasa as `rasa init` makes it, served by `rasa run`: the baseline."""

    project: Path
    work: Path  # private: its endpoints file holds the Redis password
    port: int = field(default_factory=free_tcp_port)
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.work / "plain-rasa.log"

    @property
    def endpoints(self) -> Path:
        return self.work / "plain-endpoints.yml"

    @property
    def credentials(self) -> Path:
        return self.work / "plain-credentials.yml"

    def has_model(self) -> bool:
        return any((self.project / "models").glob("*.tar.gz"))

    def prepare(self) -> str:
        """Train when there is no model: `rasa init` for a new folder, `rasa train` else."""
        if self.has_model():
            return "reused"
        if (self.project / "domain.yml").exists():
            run_logged([str(RASA), "train"], self.project, self.log_file, PLAIN_TRAIN_TIMEOUT_S)
            how = "rasa train"
        else:
            self.project.mkdir(parents=True, exist_ok=True)  # --no-prompt wants it to exist
            run_logged(
                [str(RASA), "init", "--no-prompt", "--init-dir", str(self.project)],
                self.project.parent,
                self.log_file,
                PLAIN_TRAIN_TIMEOUT_S,
            )
            how = "rasa init"
        if not self.has_model():
            raise RuntimeError(f"{how} left no model in {self.project / 'models'}")
        return how

    def configure(self, redis_url: str, redis_db: int, database_url: str) -> str:
        """Rasa's own Redis stores and SQL broker on our servers; returns the events DB URL."""
        port, user = create_database(database_url, PLAIN_EVENTS_DB)
        r = urlsplit(redis_url)
        store: dict[str, Any] = {
            "url": r.hostname or "127.0.0.1",
            "port": r.port or 6379,
            "db": redis_db,
            "key_prefix": PLAIN_KEY_PREFIX,
        }
        if r.username:
            store["username"] = unquote(r.username)
        if r.password:
            store["password"] = unquote(r.password)
        d = urlsplit(database_url)
        query = parse_qs(d.query)
        # A unix-socket server is named by its socket directory, which SQLAlchemy and libpq
        # take as the host; the port names the socket file.
        host = query.get("host", [""])[0] or d.hostname or "localhost"
        broker: dict[str, Any] = {
            "type": "SQL",
            "dialect": "postgresql",
            "url": host,
            "port": port,
            "db": PLAIN_EVENTS_DB,
            "username": user,
        }
        if d.password:
            broker["password"] = unquote(d.password)
        endpoints = {
            "tracker_store": {"type": "redis", **store},
            "lock_store": {"type": "redis", **store},
            "event_broker": broker,
        }
        write_private(self.endpoints, yaml.safe_dump(endpoints, sort_keys=False))
        # Only the REST channel, whatever the project's credentials.yml lists.
        write_private(self.credentials, "rest:\n")
        return with_path(database_url, f"/{PLAIN_EVENTS_DB}")

    def start(self) -> None:
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(
                [
                    str(RASA),
                    "run",
                    "--enable-api",
                    "--interface",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--model",
                    "models",
                    "--endpoints",
                    str(self.endpoints),
                    "--credentials",
                    str(self.credentials),
                ],
                cwd=self.project,
                env=plain_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = PLAIN_READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"plain Rasa exited:\n{tail(self.log_file)}")
            try:
                if requests.get(f"{self.base_url}/webhooks/rest/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"plain Rasa not ready after {timeout_s:.0f} s:\n{tail(self.log_file)}")

    def stop(self) -> None:
        if self.process is not None:
            kill_group(self.process)
            self.process = None

    def pid(self) -> int | None:
        return None if self.process is None or self.process.poll() is not None else self.process.pid


def write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def create_database(database_url: str, name: str) -> tuple[int, str]:
    """Create plain Rasa's events database if missing; return the server's port and user."""
    conn = psycopg2.connect(database_url, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SHOW port")
            port = int(cur.fetchone()[0])
            cur.execute("SELECT current_user")
            user = str(cur.fetchone()[0])
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {name}")  # a constant identifier
    finally:
        conn.close()
    return port, user


def count_events(database_url: str, sender_id: str) -> int:
    try:
        conn = psycopg2.connect(database_url, connect_timeout=5)
    except psycopg2.Error:
        return 0
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM events WHERE sender_id = %s", (sender_id,))
            return int(cur.fetchone()[0])
    except psycopg2.Error:
        return 0
    finally:
        conn.close()


def check_stores(
    bot: Bot, sender: str, conversation: str, redis_url: str, events_url: str, timeout_s: float
) -> dict[str, Any]:
    """Send one message and look for it in every store: the lock taken in Redis (seen with
    MONITOR, since Rasa deletes the lock after the turn), the tracker key, the event rows."""
    db = int(urlsplit(redis_url).path.strip("/") or 0)
    client = redis.Redis.from_url(redis_url, socket_timeout=15, socket_connect_timeout=5)
    marker = f"e2e-monitor-end-{uuid.uuid4().hex}"
    lock_commands = 0
    try:
        with client.monitor() as monitor:
            answer = post_sync(bot.base_url, sender, "hello", timeout_s)
            client.echo(marker)
            while True:
                try:
                    command = monitor.next_command()
                except redis.RedisError:
                    break
                text = command["command"]
                if marker in text:
                    break
                if command["db"] == db and "lock:" in text and conversation in text:
                    lock_commands += 1
        tracker = any(client.scan_iter(match=f"*tracker:{conversation}", count=1000))
    finally:
        client.close()
    # Ours writes events from a background thread: wait until the count stops growing.
    rows, stable_since, deadline = 0, time.monotonic(), time.monotonic() + 20
    while time.monotonic() < deadline and (not rows or time.monotonic() - stable_since < 2):
        time.sleep(0.5)
        now = count_events(events_url, conversation)
        if now != rows:
            rows, stable_since = now, time.monotonic()
    return {
        "answer": answer,
        "lock_store_commands": lock_commands,
        "tracker_key": tracker,
        "event_rows": rows,
        "all_work": answer == "ok" and lock_commands > 0 and tracker and rows > 0,
    }


# ----- traffic -------------------------------------------------------------------------------


@dataclass
class Traffic:
    """The client side of one run: sender ids, the HTTP timeout, conversation length."""

    run: str
    timeout_s: float
    conversation_length: int

    def session(self, limit: int, fresh_connections: bool = False) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_s, connect=min(10, self.timeout_s)),
            connector=aiohttp.TCPConnector(limit=limit, force_close=fresh_connections),
        )

    def sender(self, bot: Bot, phase: str, n: int) -> str:
        return f"e2e-{self.run}-{bot.key}-{phase}-{n}"

    def text(self, turn: int) -> str:
        return SCRIPT[(turn % self.conversation_length) % len(SCRIPT)]

    async def sequential(self, bot: Bot, messages: int, phase: str) -> list[Exchange]:
        """One conversation at a time, each --conversation-length messages long."""
        out = []
        async with self.session(2) as session:
            for i in range(messages):
                sender = self.sender(bot, phase, i // self.conversation_length)
                out.append(await post(session, bot.base_url, sender, self.text(i)))
        return out

    async def closed_loop(
        self, bot: Bot, concurrency: int, duration_s: float
    ) -> tuple[list[Exchange], float]:
        """`concurrency` conversations, each sending its next message on the previous answer,
        until the deadline; returns the exchanges and the deadline (time.monotonic())."""
        out: list[Exchange] = []
        deadline = time.monotonic() + duration_s

        async def converse(worker: int) -> None:
            turn = 0
            while time.monotonic() < deadline:
                n = worker * 1_000_000 + turn // self.conversation_length
                sender = self.sender(bot, f"c{concurrency}", n)
                exchange = await post(session, bot.base_url, sender, self.text(turn))
                out.append(exchange)
                turn += 1
                if exchange.status is None and exchange.kind != "timeout":
                    await asyncio.sleep(0.1)  # a dead server must not turn this into a spin

        async with self.session(concurrency + 4) as session:
            await asyncio.gather(*(converse(w) for w in range(concurrency)))
        return out, deadline

    async def long_conversation(self, bot: Bot, turns: int) -> list[Exchange]:
        out = []
        sender = self.sender(bot, "long", 0)
        async with self.session(2) as session:
            for turn in range(turns):
                out.append(await post(session, bot.base_url, sender, SCRIPT[turn % len(SCRIPT)]))
        return out

    async def startup(self, bot: Bot, t0: float, give_up_s: float) -> list[Exchange]:
        """A "hello" from a new sender every 0.1 s from t0, whether or not earlier ones were
        answered, until 5 s after the first real answer (or give_up_s). New connections each
        time, so a request never rides on a connection to the previous server."""
        first_ok: list[float] = []
        tasks: list[asyncio.Task[Exchange]] = []

        async def probe(n: int) -> Exchange:
            exchange = await post(session, bot.base_url, self.sender(bot, "start", n), "hello")
            if exchange.kind == "ok":
                first_ok.append(exchange.done_at)
            return exchange

        async with self.session(0, fresh_connections=True) as session:
            n = 0
            while True:
                now = time.monotonic()
                if first_ok and now >= min(first_ok) + PROBE_AFTER_ANSWER_S:
                    break
                if now - t0 >= give_up_s:
                    break
                tasks.append(asyncio.create_task(probe(n)))
                n += 1
                await asyncio.sleep(max(0.0, t0 + n * PROBE_EVERY_S - time.monotonic()))
            return list(await asyncio.gather(*tasks))


# ----- figures -------------------------------------------------------------------------------


def summarize(exchanges: list[Exchange]) -> dict[str, Any]:
    ok = [e.latency_s for e in exchanges if e.kind == "ok"]
    return {
        "messages": len(exchanges),
        "answered": len(ok),
        "errors": dict(Counter(e.kind for e in exchanges if e.kind != "ok")),
        "non_200_statuses": dict(
            Counter(str(e.status) for e in exchanges if e.status not in (None, 200))
        ),
        "p50_s": percentile(ok, 0.5),
        "p99_s": percentile(ok, 0.99),
        "mean_s": statistics.fmean(ok) if ok else None,
        "max_s": max(ok, default=None),
    }


def long_figures(exchanges: list[Exchange]) -> dict[str, Any]:
    window = min(LONG_WINDOW, len(exchanges) // 2)
    first = [e.latency_s for e in exchanges[:window] if e.kind == "ok"]
    last = [e.latency_s for e in exchanges[len(exchanges) - window :] if e.kind == "ok"]
    first_median = statistics.median(first) if first else None
    last_median = statistics.median(last) if last else None
    return {
        **summarize(exchanges),
        "window": window,
        "first_turns": f"1-{window}",
        "last_turns": f"{len(exchanges) - window + 1}-{len(exchanges)}",
        "first_median_s": first_median,
        "last_median_s": last_median,
        "last_over_first": last_median / first_median if first_median and last_median else None,
    }


def startup_figures(
    exchanges: list[Exchange], t0: float, process_started_after_s: float | None
) -> dict[str, Any]:
    ok = [e.done_at for e in exchanges if e.kind == "ok"]
    first_ok = min(ok, default=None)
    waits = [e.latency_s for e in exchanges if e.kind == "ok"]
    http = [e.done_at for e in exchanges if e.status is not None]
    non_200 = [e for e in exchanges if e.kind == "non-200"]
    kinds = Counter(e.kind for e in exchanges)
    named = ("ok", "empty", "refused", "non-200", "timeout", "trouble")
    return {
        "probes": len(exchanges),
        "process_started_after_s": process_started_after_s,
        "first_http_answer_after_s": min(http) - t0 if http else None,
        "first_real_answer_after_s": first_ok - t0 if first_ok is not None else None,
        "real_answers": kinds["ok"],
        "longest_wait_for_a_real_answer_s": max(waits, default=None),
        "empty": kinds["empty"],
        "refused": kinds["refused"],
        "non_200_with_retry_after": sum(1 for e in non_200 if e.retry_after),
        "non_200_without_retry_after": sum(1 for e in non_200 if not e.retry_after),
        "non_200_statuses": dict(Counter(str(e.status) for e in non_200)),
        "timeouts": kinds["timeout"],
        "trouble": kinds["trouble"],
        "other_errors": {k: n for k, n in kinds.items() if k not in named},
        "errors_after_first_real_answer": sum(
            1
            for e in exchanges
            if e.kind != "ok" and first_ok is not None and e.sent_at >= first_ok
        ),
    }


def cpu_seconds(pid: int | None) -> float | None:
    """CPU time of a process and its children (PostgreSQL's backends are the postmaster's),
    those already reaped included, so a backend that exits mid-phase is not lost."""
    if pid is None:
        return None
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


class CpuMeter:
    """CPU during a phase: each core's busy share, and each process's share of one core."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {**pids, "load generator": os.getpid()}
        self.before: dict[str, float | None] = {}
        self.started = 0.0
        self.per_core: list[float] = []
        self.processes: dict[str, float | None] = {}

    def __enter__(self) -> CpuMeter:
        psutil.cpu_percent(percpu=True)  # resets the per-core counters
        self.before = {role: cpu_seconds(pid) for role, pid in self.pids.items()}
        self.started = time.monotonic()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.per_core = psutil.cpu_percent(percpu=True)
        elapsed = max(1e-6, time.monotonic() - self.started)
        for role, pid in self.pids.items():
            after, before = cpu_seconds(pid), self.before.get(role)
            self.processes[role] = (
                round(100 * (after - before) / elapsed, 1)
                if after is not None and before is not None
                else None
            )

    def figures(self) -> dict[str, Any]:
        return {"cpu_per_core_percent": self.per_core, "process_cpu_percent": self.processes}


def rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except psutil.Error:
        return None


# ----- restarts ------------------------------------------------------------------------------


def our_rasa_started_after(stack: IsolatedStack, old_pid: int, killed_wall: float) -> float | None:
    """When the supervisor spawned the new Rasa server, from its process start time."""
    if stack.process is None:
        return None
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(stack.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if child.pid != old_pid and "stack.rasa_server" in " ".join(child.cmdline()):
                    return child.create_time() - killed_wall
    return None


def our_pids(stack: IsolatedStack) -> dict[str, int | None]:
    """Our servers' pids: one pair, or every pair of a cluster and its HAProxy."""
    if not stack.cluster:
        return {"rasa server": stack.rasa_pid(), "action server": stack.action_pid()}
    pids: dict[str, int | None] = {}
    for pair in stack.cluster_plan()["pairs"]:
        pids[f"rasa server {pair['index']}"] = listener_pid(pair["rasa_port"])
        pids[f"action server {pair['index']}"] = listener_pid(pair["action_port"])
    pids["haproxy"] = listener_pid(stack.rasa_port)
    return pids


def restart_ours(traffic: Traffic, bot: Bot, stack: IsolatedStack) -> dict[str, Any]:
    """SIGKILL our Rasa server (every one of a cluster), as a crash; the stack's supervisor
    starts them again."""
    rasa = [pid for name, pid in our_pids(stack).items() if name.startswith("rasa server")]
    if not rasa or None in rasa:
        return {"error": "no Rasa server listening"}
    pid = rasa[0]
    t0, killed_wall = time.monotonic(), time.time()
    for each in rasa:
        os.kill(each, signal.SIGKILL)
    exchanges = asyncio.run(traffic.startup(bot, t0, STARTUP_GIVE_UP_S))
    started = our_rasa_started_after(stack, pid, killed_wall)
    return {
        "how": "SIGKILL, restarted by the supervisor",
        **startup_figures(exchanges, t0, started),
    }


def restart_plain(traffic: Traffic, bot: Bot, plain: PlainRasa) -> dict[str, Any]:
    """Stop plain Rasa, then time a fresh `rasa run` from the moment it is started."""
    plain.stop()
    t0 = time.monotonic()
    plain.start()
    started = time.monotonic() - t0
    exchanges = asyncio.run(traffic.startup(bot, t0, STARTUP_GIVE_UP_S))
    return {"how": "a fresh `rasa run`", **startup_figures(exchanges, t0, started)}


# ----- the report ----------------------------------------------------------------------------


def git_revision() -> str:
    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return revision + (" (with uncommitted changes)" if dirty else "")


def dig(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.0f} ms"


def seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def errors(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "n/a"
    kinds = summary.get("errors") or {}
    if not kinds:
        return "0"
    text = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
    statuses = summary.get("non_200_statuses") or {}
    shown = ", ".join(f"{status}×{n}" for status, n in sorted(statuses.items()))
    return text + (f" (HTTP {shown})" if shown else "")


def ratio(plain: Any, ours: Any) -> str:
    if isinstance(plain, int | float) and isinstance(ours, int | float) and plain:
        return f"{ours / plain:.2f}"
    return ""


def table(results: dict[str, Any], levels: Iterable[int]) -> list[str]:
    plain, ours = results.get("plain", {}), results.get("ours", {})
    lines = ["| | plain Rasa | ours | ours / plain |", "|---|---|---|---|"]

    def row(name: str, path: tuple[str, ...], show: Callable[[Any], str], compare: bool) -> None:
        a, b = dig(plain, *path), dig(ours, *path)
        lines.append(f"| {name} | {show(a)} | {show(b)} | {ratio(a, b) if compare else ''} |")

    row("sequential p50", ("sequential", "p50_s"), ms, True)
    row("sequential p99", ("sequential", "p99_s"), ms, True)
    row("sequential errors", ("sequential",), errors, False)
    for level in levels:
        phase = ("concurrent", str(level))
        row(f"{level} concurrent, throughput", (*phase, "throughput_msg_s"), msg_s, True)
        row(f"{level} concurrent, p50", (*phase, "p50_s"), ms, True)
        row(f"{level} concurrent, p99", (*phase, "p99_s"), ms, True)
        row(f"{level} concurrent, errors", phase, errors, False)
        row(f"{level} concurrent, CPU per core", (*phase, "cpu_per_core_percent"), cores, False)
        row(f"{level} concurrent, bot's own CPU", (*phase, "bot_cpu_percent"), one_core, True)
    window = dig(plain, "long", "window") or dig(ours, "long", "window") or LONG_WINDOW
    last = dig(ours, "long", "last_turns") or dig(plain, "long", "last_turns") or "last"
    row(f"long: turns {last} / 1-{window}", ("long", "last_over_first"), times, True)
    row(f"long: median turns 1-{window}", ("long", "first_median_s"), ms, True)
    row(f"long: median turns {last}", ("long", "last_median_s"), ms, True)
    row("long: errors", ("long",), errors, False)
    row("memory, Rasa server (RSS)", ("memory_mib", "rasa server"), mib, True)
    row("memory, action server (RSS)", ("memory_mib", "action server"), mib, False)
    row("memory, all our servers", ("memory_mib", "total"), mib, True)
    roles = (dig(ours, "memory_mib") or {}).keys() - {"rasa server", "action server", "total"}
    for role in sorted(roles):  # a cluster's pairs and its balancer
        row(f"memory, {role} (RSS)", ("memory_mib", role), mib, False)
    return lines


def startup_table(results: dict[str, Any]) -> list[str]:
    plain, ours = dig(results, "plain", "startup"), dig(results, "ours", "startup")
    if not plain and not ours:
        return []
    lines = [
        "| start-up (t=0 at the start or kill) | plain Rasa | ours |",
        "|---|---|---|",
        f"| how | {dig(plain or {}, 'how') or 'n/a'} | {dig(ours or {}, 'how') or 'n/a'} |",
    ]
    for name, key, show in (
        ("new process started at", "process_started_after_s", seconds),
        ("first HTTP answer at", "first_http_answer_after_s", seconds),
        ("first real answer at", "first_real_answer_after_s", seconds),
        ("probes sent (every 0.1 s)", "probes", str),
        ("real answers", "real_answers", str),
        ("longest wait of an answered probe", "longest_wait_for_a_real_answer_s", seconds),
        ("connection refused", "refused", str),
        ("empty `[]`", "empty", str),
        ("non-200 with Retry-After", "non_200_with_retry_after", str),
        ("non-200 without Retry-After", "non_200_without_retry_after", str),
        ("non-200 statuses", "non_200_statuses", str),
        ("timeouts", "timeouts", str),
        ('"having trouble"', "trouble", str),
        ("other errors", "other_errors", str),
        ("errors after the first real answer", "errors_after_first_real_answer", str),
    ):
        a = dig(plain or {}, key)
        b = dig(ours or {}, key)
        lines.append(
            f"| {name} | {'n/a' if a is None else show(a)} | {'n/a' if b is None else show(b)} |"
        )
    return lines


def msg_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} msg/s"


def mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MiB"


def times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def one_core(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} % of a core"


def cores(value: list[float] | None) -> str:
    return "n/a" if not value else " / ".join(f"{p:.0f}" for p in value) + " %"


# ----- the run -------------------------------------------------------------------------------


class Interrupted(BaseException):
    """SIGTERM, raised like Ctrl-C so that every `finally` stops what it started."""


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def measure(
    args: argparse.Namespace,
    traffic: Traffic,
    bots: list[Bot],
    results: dict[str, Any],
    restart: dict[str, Callable[[], dict[str, Any]]],
) -> None:
    """Every phase, for each bot in turn, into `results[bot.key]`."""
    for bot in bots:
        say_progress(f"{bot.label}: warm-up, {args.warmup} messages")
        warm = asyncio.run(traffic.sequential(bot, args.warmup, "warm"))
        results[bot.key]["warm_up"] = summarize(warm)
    for bot in bots:
        time.sleep(SETTLE_S)
        say_progress(f"{bot.label}: sequential, {args.sequential} messages")
        exchanges = asyncio.run(traffic.sequential(bot, args.sequential, "seq"))
        results[bot.key]["sequential"] = summarize(exchanges)
    for level in args.concurrency:
        for bot in bots:
            time.sleep(SETTLE_S)
            say_progress(f"{bot.label}: {level} concurrent conversations for {args.duration} s")
            own = bot.pids()
            with CpuMeter({**own, **results["shared_pids"]}) as meter:
                exchanges, deadline = asyncio.run(traffic.closed_loop(bot, level, args.duration))
            in_time = sum(1 for e in exchanges if e.kind == "ok" and e.done_at <= deadline)
            figures = {
                **summarize(exchanges),
                "throughput_msg_s": in_time / args.duration,
                **meter.figures(),
            }
            own_cpu = [meter.processes.get(role) for role in own]
            if own_cpu and all(v is not None for v in own_cpu):
                figures["bot_cpu_percent"] = sum(v for v in own_cpu if v is not None)
            results[bot.key].setdefault("concurrent", {})[str(level)] = figures
    for bot in bots:
        time.sleep(SETTLE_S)
        say_progress(f"{bot.label}: one conversation of {args.long_turns} turns")
        exchanges = asyncio.run(traffic.long_conversation(bot, args.long_turns))
        results[bot.key]["long"] = long_figures(exchanges)
    for bot in bots:
        memory = {role: rss_mib(pid) for role, pid in bot.pids().items()}
        known = [v for v in memory.values() if v is not None]
        memory["total"] = round(sum(known), 1) if known else None
        results[bot.key]["memory_mib"] = memory
    if args.skip_startup:
        return
    for bot in bots:
        if bot.key not in restart:
            results[bot.key]["startup"] = {"how": "not measured (--ours-url)"}
            continue
        time.sleep(SETTLE_S)
        say_progress(f"{bot.label}: start-up")
        results[bot.key]["startup"] = restart[bot.key]()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.e2e_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sequential", type=int, default=100, help="messages, one at a time")
    parser.add_argument("--warmup", type=int, default=10, help="messages before measuring")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--long-turns", type=int, default=300)
    parser.add_argument(
        "--conversation-length",
        type=int,
        default=10,
        help="messages per conversation in the sequential and concurrent phases",
    )
    parser.add_argument("--timeout", type=float, default=HTTP_TIMEOUT_S, help="per request, s")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="run ours as `make run-cluster`: CLUSTER_SERVERS pairs behind HAProxy",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--plain-dir",
        type=Path,
        help="plain Rasa project folder: reused when it holds a model, else created with "
        "`rasa init` and kept (default: a temporary folder)",
    )
    parser.add_argument(
        "--plain-redis-db", type=int, default=1, help="Redis db of plain Rasa's stores"
    )
    parser.add_argument(
        "--ours-url",
        help="measure a running bot of ours at this URL instead of starting an isolated stack "
        "(needs --redis-url and --database-url for plain Rasa; no start-up phase for ours)",
    )
    parser.add_argument("--redis-url", help="Redis for plain Rasa (with --ours-url)")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL for plain Rasa (with --ours-url); database "
        f"{PLAIN_EVENTS_DB} is created on it and left there",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args(argv)
    if args.ours_url and not (args.redis_url and args.database_url):
        parser.error("--ours-url needs --redis-url and --database-url")
    if not args.ours_url and not (PROJECT_ROOT / "models" / "shopbot.tar.gz").exists():
        parser.error("no trained model at models/shopbot.tar.gz; run `make train`")

    signal.signal(signal.SIGTERM, _on_sigterm)
    work = Path(tempfile.mkdtemp(prefix="e2e-latency-"))  # mode 0700
    plain = PlainRasa(args.plain_dir.resolve() if args.plain_dir else work / "plain-rasa", work)
    stack: IsolatedStack | None = None
    traffic = Traffic(uuid.uuid4().hex[:8], args.timeout, args.conversation_length)
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_revision(),
        "cpus": psutil.cpu_count(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "setup_s": {},
        "shared_pids": {},
        "plain": {},
        "ours": {},
    }
    failure = ""
    try:
        if args.ours_url:
            ours_url = args.ours_url.rstrip("/")
            redis_url, database_url = args.redis_url, args.database_url
            port = urlsplit(ours_url).port or 80
            ours = Bot("ours", "ours", ours_url, lambda: {"rasa server": listener_pid(port)})
            ours_stores: tuple[str, str] | None = None
        else:
            say_progress("starting our isolated stack (PostgreSQL, Redis, actions, Rasa)")
            started = time.monotonic()
            stack = IsolatedStack(work / "stack", cluster=args.cluster)
            stack.start()
            results["setup_s"]["ours_ready"] = round(time.monotonic() - started, 1)
            redis_url, database_url = stack.redis_url(), stack.database_url()
            if redis_url is None or database_url is None:
                raise RuntimeError("the stack's Redis or PostgreSQL is not running")
            ours_stores = (redis_url, database_url)
            live = stack
            ours = Bot(
                "ours",
                "ours",
                stack.base_url,
                lambda: our_pids(live),
            )
            results["shared_pids"] = {"redis": stack.redis_pid(), "postgres": stack.postgres_pid()}

        say_progress(f"preparing plain Rasa in {plain.project}")
        started = time.monotonic()
        results["plain"]["trained_by"] = plain.prepare()
        results["setup_s"]["plain_prepare"] = round(time.monotonic() - started, 1)
        plain_db = int(args.plain_redis_db)
        plain_redis = with_path(redis_url, f"/{plain_db}")
        plain_events = plain.configure(redis_url, plain_db, database_url)
        started = time.monotonic()
        plain.start()
        plain.wait_ready()
        results["setup_s"]["plain_ready"] = round(time.monotonic() - started, 1)
        plain_bot = Bot("plain", "plain Rasa", plain.base_url, lambda: {"rasa server": plain.pid()})

        say_progress("checking that each bot's tracker store, lock store and broker work")
        sender = traffic.sender(plain_bot, "stores", 0)
        results["plain"]["stores"] = check_stores(
            plain_bot, sender, sender, plain_redis, plain_events, args.timeout
        )
        if ours_stores is not None:
            sender = traffic.sender(ours, "stores", 0)
            results["ours"]["stores"] = check_stores(
                ours, sender, f"rest:{sender}", ours_stores[0], ours_stores[1], args.timeout
            )

        restart: dict[str, Callable[[], dict[str, Any]]] = {
            "plain": lambda: restart_plain(traffic, plain_bot, plain)
        }
        if stack is not None:
            live_stack = stack
            restart["ours"] = lambda: restart_ours(traffic, ours, live_stack)
        measure(args, traffic, [plain_bot, ours], results, restart)
    except (KeyboardInterrupt, Interrupted) as exc:
        failure = f"interrupted ({type(exc).__name__})"
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        say_progress("stopping everything this run started")
        plain.stop()
        if stack is not None:
            stack.stop()
        if args.keep_data:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    results["total_s"] = round(time.monotonic() - _STARTED, 1)
    if failure:
        results["failure"] = failure
    print_report(results, args.concurrency)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"\nfigures written to {args.json}")
    return 1 if failure else 0


def print_report(results: dict[str, Any], levels: Iterable[int]) -> None:
    settings = results["settings"]
    print()
    print(f"# End-to-end latency, plain Rasa vs ours ({results['date']})")
    print()
    print(f"commit {results['commit']}; {results['cpus']} CPUs; REST, anonymous senders")
    print(
        f"sequential {settings['sequential']} messages after {settings['warmup']} warm-up; "
        f"concurrent {settings['duration']} s per level; long conversation "
        f"{settings['long_turns']} turns; conversations of {settings['conversation_length']} "
        "messages elsewhere"
    )
    print(f"set-up: {results['setup_s']}")
    for key, label in (("plain", "plain Rasa"), ("ours", "ours")):
        stores = dig(results, key, "stores")
        if stores:
            print(
                f"stores of {label}: answer {stores['answer']}, lock store "
                f"{stores['lock_store_commands']} Redis commands, tracker key "
                f"{'found' if stores['tracker_key'] else 'MISSING'}, "
                f"{stores['event_rows']} event rows"
                + ("" if stores["all_work"] else "  <-- NOT ALL STORES WORK")
            )
    print()
    print("\n".join(table(results, levels)))
    lines = startup_table(results)
    if lines:
        print()
        print("\n".join(lines))
    print()
    print(f"total {results['total_s']:.0f} s")
    if results.get("failure"):
        print(f"FAILED: {results['failure']}")


if __name__ == "__main__":
    sys.exit(main())
