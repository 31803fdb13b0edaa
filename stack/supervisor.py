"""Keeps the stack's processes and embedded servers alive while `make run` serves.

Every check interval the supervisor asks each unit whether it still runs. One that died is
logged with the reason (exit code or signal, and which log to read) and restarted after a
back-off that doubles from ``backoff_initial_s`` up to ``backoff_max_s``; the back-off resets
once the unit has stayed up for ``healthy_after_s``, so a crash loop slows down while a rare
crash is repaired at once. Restart counts go to the log, the
``shopbot_process_restarts_total`` metric and a status file an operator can read.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from personalization.metrics import PROCESS_RESTARTS
from personalization.settings import SupervisorSettings
from stack.processes import ManagedProcess, describe_exit
from stack.services import EmbeddedPostgres, EmbeddedRedis

log = logging.getLogger(__name__)


class Unit(Protocol):
    """Something the supervisor keeps running."""

    name: str

    def failure(self) -> str | None:
        """None while it runs; otherwise why it is down, for the log."""

    def restart(self) -> None:
        """Start it again; raise when that fails (the supervisor retries after a back-off)."""


@dataclass
class ChildUnit:
    """A server started as a child process (action server, Rasa, job worker)."""

    process: ManagedProcess
    env: Mapping[str, str]
    cwd: Path

    @property
    def name(self) -> str:
        return self.process.name

    def failure(self) -> str | None:
        code = self.process.exited()
        if code is None:
            return None
        return f"exited ({describe_exit(code)}); see {self.process.log_file}"

    def restart(self) -> None:
        self.process.start(self.env, self.cwd)


@dataclass
class PostgresUnit:
    """The embedded PostgreSQL; it comes back on the same unix socket, so pools reconnect."""

    server: EmbeddedPostgres
    name: str = "postgres"

    def failure(self) -> str | None:
        if self.server.is_running():
            return None
        return f"postmaster is gone; see {self.server.pgdata / 'log'}"

    def restart(self) -> None:
        self.server.start()


@dataclass
class RedisUnit:
    """The embedded Redis; it comes back on the same port with the same password."""

    server: EmbeddedRedis
    name: str = "redis"

    def failure(self) -> str | None:
        if self.server._pid() is not None:
            return None
        return f"redis-server is gone; see {self.server.root / 'redis.log'}"

    def restart(self) -> None:
        self.server.start(same_port=True)


@dataclass
class Backoff:
    """Delays of initial, 2×initial, 4×initial, … capped at maximum."""

    initial_s: float
    maximum_s: float
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum_s, self.initial_s * (2**self.failures))
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


@dataclass
class _Tracked:
    unit: Unit
    backoff: Backoff
    up_since: float
    restarts: int = 0
    retry_at: float | None = None  # set while the unit is down
    last_failure: str = ""
    last_restart: str = ""


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Supervisor:
    """Checks units and restarts the dead ones; call ``tick()`` about once a second."""

    def __init__(
        self,
        units: list[Unit],
        settings: SupervisorSettings,
        status_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.status_file = status_file
        self.clock = clock
        now = clock()
        self._tracked = [
            _Tracked(unit, Backoff(settings.backoff_initial_s, settings.backoff_max_s), now)
            for unit in units
        ]
        self._write_status()

    def restarts(self) -> dict[str, int]:
        return {t.unit.name: t.restarts for t in self._tracked}

    def delays(self, name: str) -> int:
        """How many back-off steps the unit has taken since it was last healthy."""
        return next(t.backoff.failures for t in self._tracked if t.unit.name == name)

    def tick(self) -> None:
        changed = False
        for tracked in self._tracked:
            changed |= self._check(tracked)
        if changed:
            self._write_status()

    def _check(self, tracked: _Tracked) -> bool:
        now = self.clock()
        name = tracked.unit.name
        if tracked.retry_at is None:
            try:
                failure = tracked.unit.failure()
            except Exception as exc:  # a probe must never stop the supervisor
                log.debug("cannot check %s: %s", name, exc)
                return False
            if failure is None:
                if now - tracked.up_since >= self.settings.healthy_after_s:
                    tracked.backoff.reset()
                return False
            delay = tracked.backoff.next_delay()
            tracked.retry_at = now + delay
            tracked.last_failure = failure
            log.warning("%s %s; restarting in %.0f s", name, failure, delay)
            return True
        if now < tracked.retry_at:
            return False
        try:
            tracked.unit.restart()
        except Exception as exc:  # reported in one line; retried after the back-off
            delay = tracked.backoff.next_delay()
            tracked.retry_at = now + delay
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            log.warning("%s did not restart: %s; next try in %.0f s", name, reason, delay)
            return True
        tracked.retry_at = None
        tracked.up_since = self.clock()
        tracked.restarts += 1
        tracked.last_restart = _now_iso()
        PROCESS_RESTARTS.labels(process=name).inc()
        log.warning("%s restarted (restart %d of this run)", name, tracked.restarts)
        return True

    def _write_status(self) -> None:
        """``stack-status.json``: each unit's state, restart count and last failure."""
        if self.status_file is None:
            return
        status = {
            "updated": _now_iso(),
            "pid": os.getpid(),
            "units": {
                t.unit.name: {
                    "state": "up" if t.retry_at is None else "restarting",
                    "restarts": t.restarts,
                    "last_failure": t.last_failure,
                    "last_restart": t.last_restart,
                }
                for t in self._tracked
            },
        }
        tmp = self.status_file.with_name(self.status_file.name + ".tmp")
        try:
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(status, out, indent=2)
            os.replace(tmp, self.status_file)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.status_file, exc.strerror)
