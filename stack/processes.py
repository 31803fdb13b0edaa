"""Start and stop the action server and the Rasa server as child processes."""

from __future__ import annotations

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


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    ready_url: str
    log_file: Path
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, env: Mapping[str, str], cwd: Path) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as out:
            # Own process group, so stopping it also stops anything the server spawned.
            self.popen = subprocess.Popen(
                self.command,
                cwd=cwd,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def is_ready(self) -> bool:
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


def action_server(env: Mapping[str, str], logs: Path) -> ManagedProcess:
    host, port = env["ACTION_HOST"], env["ACTION_PORT"]
    return ManagedProcess(
        name="action server",
        command=[sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", port],
        ready_url=f"http://{host}:{port}/health",
        log_file=logs / "actions.log",
    )


def rasa_server(env: Mapping[str, str], logs: Path, model: Path) -> ManagedProcess:
    host, port = env["RASA_HOST"], env["RASA_PORT"]
    # Secrets reach the server through its environment, never its command line.
    command = [sys.executable, "-m", "stack.rasa_server", "--model", str(model)]
    return ManagedProcess(
        name="rasa server",
        command=command,
        ready_url=f"http://{host}:{port}/webhooks/rest/",
        log_file=logs / "rasa.log",
    )


def wait_until_ready(processes: list[ManagedProcess], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(processes)
    while pending:
        for process in list(pending):
            code = process.exited()
            if code is not None:
                raise ProcessError(
                    f"{process.name} exited with code {code}; see {process.log_file}"
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
