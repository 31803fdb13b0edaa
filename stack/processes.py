"""Start and stop the action server, the Rasa server and the job worker as child processes."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

log = logging.getLogger(__name__)


class ProcessError(RuntimeError):
    """A server exited or did not become ready in time."""


WORKER_MODULE = "stack.worker"  # personalization.jobs.worker, its logs scrubbed


def describe_exit(code: int) -> str:
    """'exit code 3' or 'signal SIGKILL': what an operator needs to know why it died."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


@dataclass
class ManagedProcess:
    """A server the runner starts as a child. Without a ``ready_url`` (the worker serves no
    HTTP), it counts as ready once it has stayed up for ``ready_after_s``."""

    name: str
    command: list[str]
    ready_url: str | None
    log_file: Path
    ready_after_s: float = 1.0
    # Variables of this process alone (its port, its action server), over the stack's own.
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    pass_fds: tuple[int, ...] = ()  # open files the child inherits (its listening socket)
    popen: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = field(default=0.0, repr=False)

    def start(self, env: Mapping[str, str], cwd: Path) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as out:
            # Own process group, so stopping it also stops anything the server spawned.
            self.popen = subprocess.Popen(
                self.command,
                cwd=cwd,
                env={**env, **self.env_overrides},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                pass_fds=self.pass_fds,
            )
        self.started_at = time.monotonic()

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def is_ready(self) -> bool:
        if self.ready_url is None:
            return (
                self.exited() is None and time.monotonic() - self.started_at >= self.ready_after_s
            )
        try:
            return requests.get(self.ready_url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self, timeout_s: float = 20) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %ss; killing it", self.name, timeout_s)
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        except ProcessLookupError:
            pass


def action_server(
    env: Mapping[str, str], logs: Path, port: int | None = None, name: str = "action server"
) -> ManagedProcess:
    host, port_text = env["ACTION_HOST"], str(port or env["ACTION_PORT"])
    suffix = name.removeprefix("action server").strip()
    return ManagedProcess(
        name=name,
        command=[sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", port_text],
        ready_url=f"http://{host}:{port_text}/health",
        log_file=logs / (f"actions-{suffix}.log" if suffix else "actions.log"),
        env_overrides={"ACTION_PORT": port_text},
    )


def rasa_server(
    env: Mapping[str, str],
    logs: Path,
    model: Path,
    port: int | None = None,
    name: str = "rasa server",
    overrides: Mapping[str, str] | None = None,
    listen_fd: int | None = None,
) -> ManagedProcess:
    """The Rasa server; with ``listen_fd``, it serves that socket, which the runner keeps
    open across the server's restarts (stack/listening.py)."""
    host, port_text = env["RASA_HOST"], str(port or env["RASA_PORT"])
    suffix = name.removeprefix("rasa server").strip()
    # Secrets reach the server through its environment, never its command line.
    command = [sys.executable, "-m", "stack.rasa_server", "--model", str(model)]
    return ManagedProcess(
        name=name,
        command=command,
        ready_url=f"http://{host}:{port_text}/webhooks/rest/",
        log_file=logs / (f"rasa-{suffix}.log" if suffix else "rasa.log"),
        env_overrides={
            "RASA_PORT": port_text,
            **({"RASA_LISTEN_FD": str(listen_fd)} if listen_fd is not None else {}),
            **(overrides or {}),
        },
        pass_fds=(listen_fd,) if listen_fd is not None else (),
    )


def worker_available() -> bool:
    """Whether the job worker's module exists in this checkout."""
    try:
        return importlib.util.find_spec(WORKER_MODULE) is not None
    except ModuleNotFoundError:
        return False


def job_worker(logs: Path) -> ManagedProcess:
    """The worker that runs durable jobs (erasure, retention). It serves no HTTP."""
    return ManagedProcess(
        name="job worker",
        command=[sys.executable, "-m", WORKER_MODULE],
        ready_url=None,
        log_file=logs / "worker.log",
    )


def insights_server(env: Mapping[str, str], logs: Path) -> ManagedProcess:
    """The operators' insights page (insights/server.py), behind OPERATOR_TOKEN."""
    host, port = env["INSIGHTS_HOST"], env["INSIGHTS_PORT"]
    return ManagedProcess(
        name="insights",
        command=[sys.executable, "-m", "insights.server"],
        ready_url=f"http://{host}:{port}/insights/health",
        log_file=logs / "insights.log",
    )


def wait_until_ready(processes: list[ManagedProcess], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(processes)
    while pending:
        for process in list(pending):
            code = process.exited()
            if code is not None:
                raise ProcessError(
                    f"{process.name} exited ({describe_exit(code)}); see {process.log_file}"
                )
            if process.is_ready():
                log.info("%s is ready", process.name)
                pending.remove(process)
        if pending and time.monotonic() > deadline:
            names = ", ".join(p.name for p in pending)
            logs = pending[0].log_file.parent
            raise ProcessError(f"{names} not ready after {timeout_s:.0f}s; see the logs in {logs}")
        if pending:
            time.sleep(0.5)
