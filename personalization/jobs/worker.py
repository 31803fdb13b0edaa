"""The background worker: `python -m personalization.jobs.worker`.

One loop, one task at a time:

1. move erasure requests recorded in Redis during a PostgreSQL outage into the table;
2. run due erasure jobs (woken at once by NOTIFY when one is recorded);
3. sweep erased conversations again once their `sweep_after` time has come;
4. every `RETENTION_INTERVAL_S`, run the retention rules;
5. every `EXPERIMENT_GUARD_INTERVAL_S`, stop any experiment arm a guardrail metric shows
   significantly worse than its control.

It reads DATABASE_URL, REDIS_URL and the other settings from the environment, logs one line
per job and per retention run (references and counts, never customer data), keeps running
through PostgreSQL or Redis outages with a growing pause between tries, and on SIGTERM or
SIGINT finishes the job in hand and exits with status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

import psycopg2
import psycopg2.extensions

from personalization.experiments.repository import ExperimentRepository
from personalization.experiments.treatment import enforce_guardrails
from personalization.jobs.erasure import NOTIFY_CHANNEL, ErasureInbox, ErasureJobs, ErasureServices
from personalization.jobs.retention import Retention
from personalization.settings import (
    ConfigurationError,
    DatabaseSettings,
    ErasureSettings,
    ExperimentSettings,
    RetentionSettings,
)
from personalization.store import Database

log = logging.getLogger("personalization.jobs.worker")

BACKOFF_MAX_S = 30.0


class Worker:
    def __init__(
        self,
        db: Database,
        database_settings: DatabaseSettings,
        erasure: ErasureSettings,
        retention: RetentionSettings,
        services: ErasureServices,
        experiments: ExperimentSettings | None = None,
    ) -> None:
        self._db = db
        self._database_settings = database_settings
        self._erasure = erasure
        self._jobs = ErasureJobs(db, erasure, services)
        self._inbox = ErasureInbox(erasure)
        self._retention = Retention(db, retention)
        self._retention_interval_s = retention.interval_s
        self._next_retention = time.monotonic()
        self._guard_interval_s = (experiments or ExperimentSettings()).guard_interval_s
        self._next_guard = time.monotonic()
        self._stopping = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._listener: psycopg2.extensions.connection | None = None
        self._failing: dict[str, int] = {}

    # --- stopping ----------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the task in hand, then leave `run_forever`; safe from a signal handler."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def handle_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("worker stopping (%s)", signal.Signals(signum).name)
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # --- the loop ------------------------------------------------------------------------

    def run_once(self) -> bool:
        """One round of every task; False if a store failed (the caller pauses longer)."""
        healthy = self._attempt("redis inbox", lambda: self._inbox.drain(self._jobs))
        healthy &= self._attempt("erasure jobs", self._run_jobs)
        healthy &= self._attempt("erasure sweeps", lambda: self._jobs.sweep_due())
        if time.monotonic() >= self._next_retention:
            if self._attempt("retention", self._retention.run):
                self._next_retention = time.monotonic() + self._retention_interval_s
            else:
                healthy = False
        if time.monotonic() >= self._next_guard:
            if self._attempt("experiment guardrails", self._guard):
                self._next_guard = time.monotonic() + self._guard_interval_s
            else:
                healthy = False
        return healthy

    def _guard(self) -> None:
        for experiment, arms in enforce_guardrails(ExperimentRepository(self._db)).items():
            for arm, reason in arms.items():
                log.warning("experiment %s: arm %s stopped (%s)", experiment, arm, reason)

    def _run_jobs(self) -> int:
        return self._jobs.run_due(stop=lambda: self.stopping)

    def _attempt(self, task: str, work: Callable[[], object]) -> bool:
        try:
            work()
        except Exception as exc:  # an outage or a bug: logged by class, retried next round
            streak = self._failing.get(task, 0) + 1
            self._failing[task] = streak
            if streak == 1 or streak % 20 == 0:
                log.warning("%s failed (%s); retrying with back-off", task, type(exc).__name__)
            return False
        if self._failing.pop(task, 0):
            log.info("%s works again", task)
        return True

    def run_forever(self) -> None:
        log.info("worker started (pid %d)", os.getpid())
        failures = 0
        while not self.stopping:
            if self.run_once():
                failures = 0
                pause = self._erasure.poll_s
            else:
                failures += 1
                pause = min(BACKOFF_MAX_S, self._erasure.poll_s * 2 ** min(failures, 10))
            if not self.stopping:
                self._wait(pause)
        self._close_listener()
        log.info("worker stopped")

    # --- waiting: a NOTIFY from a new request, a signal, or the pause running out ---------

    def _wait(self, timeout_s: float) -> None:
        listener = self._listen()
        ready: list[object] = []
        watched: list[object] = [self._wake_read] + ([listener] if listener else [])
        try:
            ready, _, _ = select.select(watched, [], [], timeout_s)
        except (OSError, ValueError):
            self._close_listener()
        if self._wake_read in ready:
            os.read(self._wake_read, 64)
        if listener is not None and listener in ready:
            try:
                listener.poll()
                listener.notifies.clear()
            except psycopg2.Error:
                self._close_listener()

    def _listen(self) -> psycopg2.extensions.connection | None:
        if self._listener is not None and not self._listener.closed:
            return self._listener
        try:
            conn = psycopg2.connect(
                self._database_settings.url,
                connect_timeout=self._database_settings.connect_timeout_s,
                application_name="personalization-worker",
            )
            conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except psycopg2.Error:
            return None  # polling instead; the next round tries again
        self._listener = conn
        return conn

    def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(psycopg2.Error):
                self._listener.close()
        self._listener = None


def build_worker() -> Worker:
    """A worker configured from the environment; raises ConfigurationError."""
    database_settings = DatabaseSettings.from_env()
    erasure = ErasureSettings.from_env()
    return Worker(
        Database(database_settings),
        database_settings,
        erasure,
        RetentionSettings.from_env(),
        ErasureServices.from_env(),
        ExperimentSettings.from_env(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personalization.jobs.worker",
        description="Run erasure jobs, their follow-up sweeps and the retention rules.",
    )
    parser.add_argument("--once", action="store_true", help="one round of every task, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        worker = build_worker()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.once:
        return 0 if worker.run_once() else 3
    signal.signal(signal.SIGTERM, worker.handle_signal)
    signal.signal(signal.SIGINT, worker.handle_signal)
    worker.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
