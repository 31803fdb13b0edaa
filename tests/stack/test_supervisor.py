"""The runner's supervisor, with real processes: a server that dies comes back and answers."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest
import redis

from personalization.metrics import PROCESS_RESTARTS
from personalization.settings import SupervisorSettings
from stack import processes
from stack.services import EmbeddedPostgres, EmbeddedRedis, free_tcp_port
from stack.supervisor import ChildUnit, PostgresUnit, RedisUnit, Supervisor

FAST = SupervisorSettings(backoff_initial_s=0.2, backoff_max_s=1.0, healthy_after_s=60)


def supervise_until(supervisor: Supervisor, done: Callable[[], bool], timeout_s: float) -> bool:
    """Tick as the runner does until ``done()`` holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        supervisor.tick()
        if done():
            return True
        time.sleep(0.1)
    return False


def restarts(name: str) -> float:
    return PROCESS_RESTARTS.labels(process=name)._value.get()


def http_server(tmp_path: Path, name: str) -> processes.ManagedProcess:
    port = free_tcp_port()
    return processes.ManagedProcess(
        name=name,
        command=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready_url=f"http://127.0.0.1:{port}/",
        log_file=tmp_path / "logs" / f"{name}.log",
    )


def test_a_killed_child_is_restarted_and_answers_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = http_server(tmp_path, "probe-server")
    server.start(os.environ, tmp_path)
    status = tmp_path / "stack-status.json"
    supervisor = Supervisor([ChildUnit(server, os.environ, tmp_path)], FAST, status_file=status)
    try:
        assert supervise_until(supervisor, server.is_ready, 20)
        before = restarts("probe-server")
        first_pid = server.popen.pid
        os.killpg(first_pid, signal.SIGKILL)
        server.popen.wait(timeout=10)
        with caplog.at_level(logging.WARNING, logger="stack.supervisor"):
            assert supervise_until(
                supervisor, lambda: server.popen.pid != first_pid and server.is_ready(), 20
            ), "the server came back and answers"
        assert supervisor.restarts() == {"probe-server": 1}
        assert restarts("probe-server") == before + 1
        assert f"probe-server exited (signal SIGKILL); see {server.log_file}" in caplog.text
        state = json.loads(status.read_text())["units"]["probe-server"]
        assert (state["state"], state["restarts"]) == ("up", 1)
        assert "SIGKILL" in state["last_failure"]
        assert status.stat().st_mode & 0o077 == 0
    finally:
        server.stop()


def test_back_off_doubles_while_a_process_keeps_crashing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A command that exits at once: each restart waits twice as long, up to the maximum."""
    clock = [1000.0]
    crasher = processes.ManagedProcess(
        name="crasher",
        command=[sys.executable, "-c", "raise SystemExit(3)"],
        ready_url=None,
        log_file=tmp_path / "logs" / "crasher.log",
    )
    crasher.start(os.environ, tmp_path)
    settings = SupervisorSettings(backoff_initial_s=1, backoff_max_s=8, healthy_after_s=60)
    supervisor = Supervisor(
        [ChildUnit(crasher, os.environ, tmp_path)], settings, clock=lambda: clock[0]
    )
    with caplog.at_level(logging.WARNING, logger="stack.supervisor"):
        for _ in range(6):
            crasher.popen.wait(timeout=30)
            supervisor.tick()  # notices the exit and schedules the restart
            delay = float(re.findall(r"restarting in (\d+) s", caplog.text)[-1])
            clock[0] += delay - 0.01
            supervisor.tick()
            assert crasher.exited() is not None, "not restarted before the back-off"
            clock[0] += 0.01
            supervisor.tick()  # restarts it
    delays = [int(d) for d in re.findall(r"restarting in (\d+) s", caplog.text)]
    assert delays == [1, 2, 4, 8, 8, 8]
    assert "crasher exited (exit code 3)" in caplog.text
    assert supervisor.restarts() == {"crasher": 6}


def test_back_off_resets_once_the_process_stayed_up(tmp_path: Path) -> None:
    clock = [0.0]
    sleeper = processes.ManagedProcess(
        name="sleeper",
        command=[sys.executable, "-c", "import time; time.sleep(60)"],
        ready_url=None,
        log_file=tmp_path / "sleeper.log",
    )
    sleeper.start(os.environ, tmp_path)
    settings = SupervisorSettings(backoff_initial_s=1, backoff_max_s=30, healthy_after_s=60)
    supervisor = Supervisor(
        [ChildUnit(sleeper, os.environ, tmp_path)], settings, clock=lambda: clock[0]
    )
    try:
        for _ in range(3):  # three quick crashes: the next delay would be 8 s
            sleeper.stop(timeout_s=5)
            supervisor.tick()
            clock[0] += 30
            supervisor.tick()
        assert supervisor.delays("sleeper") == 3
        clock[0] += 61
        supervisor.tick()
        assert supervisor.delays("sleeper") == 0, "healthy for a minute: back to 1 s"
    finally:
        sleeper.stop(timeout_s=5)


def test_a_killed_embedded_redis_comes_back_on_its_port_with_its_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        client.set("conversation", "state")
        time.sleep(1.2)  # the append-only file is flushed every second
        supervisor = Supervisor([RedisUnit(server)], FAST)
        os.kill(server._pid(), signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="stack.supervisor"):
            assert supervise_until(supervisor, server.is_running, 30)
        assert "redis redis-server is gone" in caplog.text
        assert supervisor.restarts() == {"redis": 1}
        # The same client object, on the same URL and password, reconnects by itself.
        assert client.get("conversation") == b"state"
    finally:
        client.close()
        server.stop()


def test_a_killed_embedded_postgres_comes_back_on_the_same_socket(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        url = server.start()
    try:
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")
        conn.close()
        supervisor = Supervisor([PostgresUnit(server)], FAST)
        os.kill(server._postmaster().pid, signal.SIGKILL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert supervise_until(supervisor, server.answers, 90)
        assert supervisor.restarts() == {"postgres": 1}
        conn = psycopg2.connect(url)  # the URL the clients already hold
        with conn, conn.cursor() as cur:
            cur.execute("SELECT v FROM kept")
            assert cur.fetchone() == (7,)
            cur.execute("SHOW log_min_error_statement")
            assert cur.fetchone() == ("panic",), "failed statements are not logged"
        conn.close()
    finally:
        server.stop()


def test_a_worker_without_http_is_ready_once_it_has_run_a_second(tmp_path: Path) -> None:
    worker = processes.ManagedProcess(
        name="worker",
        command=[sys.executable, "-c", "import time; time.sleep(30)"],
        ready_url=None,
        log_file=tmp_path / "worker.log",
    )
    worker.start(os.environ, tmp_path)
    try:
        assert not worker.is_ready()
        processes.wait_until_ready([worker], timeout_s=10)
        assert worker.is_ready()
    finally:
        worker.stop(timeout_s=5)
    assert processes.job_worker(tmp_path).command[-2:] == ["-m", processes.WORKER_MODULE]
