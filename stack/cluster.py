"""`make run-cluster`: several Rasa and action servers behind Debian's HAProxy, one address.

One Rasa process uses one core: it parses, predicts and serialises on one event loop. The
cluster runs N pairs (a Rasa server and the action server it calls) on ports of their own,
sharing PostgreSQL and Redis, and HAProxy listens on the public port (RASA_PORT):

- REST is routed by conversation id (the ``sender`` of the JSON body, hashed), so one
  conversation's messages reach one server while it is up. Correctness does not depend on
  it: the tracker and the conversation lock live in Redis, so a message that lands on the
  other server (after a crash, say) finds the same conversation and waits its turn;
- socket.io (the web chat) is routed by client address: its long-polling requests and its
  websocket must all reach the server that holds the session;
- everything else (the chat page, help articles) goes to any server that is up;
- a crashed server's port refuses connections (the runner holds no port here), so its
  requests go to the other pair at once (``retries``, ``redispatch``); a server that fails
  three health checks (2 s apart, 3 s each: a busy server is not a dead one) leaves the
  rotation, which covers a server that is up but no longer answers;
- the pairs listen on loopback only and take the client's address from the
  X-Forwarded-For header HAProxy adds (``SANIC_PROXIES_COUNT=1``), so sign-in limits still
  count per client;
- with no server up (start-up, or all restarting) HAProxy answers 503 with Retry-After and a
  JSON body that says the assistant is starting, never an empty answer.

The runner supervises every process here, HAProxy included, as it does a single server.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from personalization.settings import ClusterSettings
from stack import processes
from stack.environment import private_directory
from stack.services import free_tcp_port

RETRY_AFTER_S = 5
# The pairs listen on loopback only: HAProxy is the one door, and the servers trust the
# client address it adds (X-Forwarded-For), which nobody else can then forge.
PAIR_HOST = "127.0.0.1"
STARTING_BODY = (
    '{"error": "starting", "help": "The assistant is starting or restarting; '
    'please try again in a few seconds."}'
)


class ClusterError(RuntimeError):
    """The cluster cannot start (no HAProxy, say); the message says what to do."""


@dataclass(frozen=True)
class Pair:
    """One Rasa server and the action server it calls."""

    index: int
    rasa_port: int
    action_port: int


@dataclass(frozen=True)
class ClusterPlan:
    host: str
    public_port: int
    pairs: tuple[Pair, ...]


def plan(env: Mapping[str, str], servers: int) -> ClusterPlan:
    """Ports for ``servers`` pairs; the public port stays RASA_PORT, served by HAProxy."""
    pairs = tuple(
        Pair(index=i, rasa_port=free_tcp_port(PAIR_HOST), action_port=free_tcp_port(PAIR_HOST))
        for i in range(1, servers + 1)
    )
    return ClusterPlan(host=env["RASA_HOST"], public_port=int(env["RASA_PORT"]), pairs=pairs)


def haproxy_binary(settings: ClusterSettings) -> str:
    found = shutil.which(settings.haproxy_path)
    if found is None:
        raise ClusterError(
            f"HAProxy not found ({settings.haproxy_path}): install Debian's package "
            "(`apt-get install haproxy`, or `scripts/ensure_haproxy.sh` as root) or set "
            "HAPROXY_PATH"
        )
    return found


# Bounded-load consistent hashing: a conversation stays on its server unless that server
# already has more requests in flight than the average (rounded up), when it goes to the next.
# The shared Redis lock and tracker keep such a move correct; without the bound, an unlucky
# hash left one server with most conversations and the slowest answers. A bound of 125 (a
# quarter over the average) still let the busier server's answers set the p99: 1.34 s
# against 1.12 s at 101, 50 conversations, two runs each, alternated.
HASH_BALANCE_FACTOR = 101


def haproxy_config(plan: ClusterPlan, starting_file: Path) -> str:
    """The balancer's configuration: routing, health checks and the 'starting' answer."""

    def checked_servers(check_path: str) -> str:
        return (
            "\n".join(
                f"    server rasa{p.index} {PAIR_HOST}:{p.rasa_port} check inter 2s fall 3 rise 1"
                for p in plan.pairs
            )
            + f"\n    option httpchk GET {check_path}\n    http-check expect status 200"
        )

    def tracking_servers() -> str:
        # One health check per server, shared by every backend: a backend that checked on
        # its own could still call a server down (and answer 503) after another had found it
        # up, right when the stack said it was ready.
        return "\n".join(
            f"    server rasa{p.index} {PAIR_HOST}:{p.rasa_port} track rest/rasa{p.index}"
            for p in plan.pairs
        )

    return f"""# Written by stack/cluster.py for this run; edits are lost on the next start.
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 90s
    timeout server 90s
    timeout http-request 10s
    timeout queue 10s
    timeout check 3s
    option forwardfor
    retries 2
    option redispatch
    errorfile 503 {starting_file}

frontend public
    bind {plan.host}:{plan.public_port}
    option http-buffer-request
    acl socketio path_beg /socket.io
    acl rest path /webhooks/rest/webhook
    use_backend socketio if socketio
    use_backend rest if rest
    default_backend any

backend rest
    balance hash req.body,json_query('$.sender')
    hash-type consistent
    hash-balance-factor {HASH_BALANCE_FACTOR}
{checked_servers("/webhooks/rest/")}

backend socketio
    balance source
    hash-type consistent
    timeout tunnel 1h
{tracking_servers()}

backend any
    balance roundrobin
{tracking_servers()}
"""


def starting_response() -> str:
    """HAProxy's raw 503 answer while no server is up."""
    body = STARTING_BODY.encode()
    return (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        f"Retry-After: {RETRY_AFTER_S}\r\n"
        "Cache-Control: no-store\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        "\r\n"
        f"{STARTING_BODY}"
    )


def write_haproxy_files(plan: ClusterPlan, directory: Path) -> Path:
    private_directory(directory)
    starting = directory / "starting.http"
    starting.write_text(starting_response())
    config = directory / "haproxy.cfg"
    config.write_text(haproxy_config(plan, starting))
    layout = {
        "public": f"http://{plan.host}:{plan.public_port}",
        "pairs": [
            {"index": p.index, "rasa_port": p.rasa_port, "action_port": p.action_port}
            for p in plan.pairs
        ],
    }
    (directory / "cluster.json").write_text(json.dumps(layout, indent=2))
    return config


def servers(
    child_env: Mapping[str, str], logs: Path, model: Path, plan: ClusterPlan, data: Path
) -> list[processes.ManagedProcess]:
    """Every pair's action and Rasa servers, then HAProxy in front of them."""
    binary = haproxy_binary(ClusterSettings.from_env())
    public_url = child_env.get("RASA_PUBLIC_URL") or f"http://{plan.host}:{plan.public_port}"
    started: list[processes.ManagedProcess] = []
    for pair in plan.pairs:
        action_url = f"http://{PAIR_HOST}:{pair.action_port}/webhook"
        started.append(
            processes.action_server(
                {**child_env, "ACTION_HOST": PAIR_HOST},
                logs,
                port=pair.action_port,
                name=f"action server {pair.index}",
            )
        )
        started.append(
            processes.rasa_server(
                {**child_env, "RASA_HOST": PAIR_HOST},
                logs,
                model,
                port=pair.rasa_port,
                name=f"rasa server {pair.index}",
                overrides={
                    "RASA_HOST": PAIR_HOST,
                    "ACTION_ENDPOINT_URL": action_url,
                    # Origins, demo tokens and links are the public address, not the pair's.
                    "RASA_PUBLIC_URL": public_url,
                    "SANIC_PROXIES_COUNT": "1",
                },
            )
        )
    config = write_haproxy_files(plan, data / "haproxy")
    started.append(
        processes.ManagedProcess(
            name="haproxy",
            command=[binary, "-db", "-f", str(config)],
            ready_url=f"http://{plan.host}:{plan.public_port}/webhooks/rest/",
            log_file=logs / "haproxy.log",
        )
    )
    return started
