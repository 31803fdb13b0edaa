"""The cluster's plan and HAProxy configuration, checked by HAProxy itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from personalization.settings import ClusterSettings
from stack import cluster, processes
from stack.environment import DEFAULTS


def test_each_pair_gets_ports_of_its_own_and_the_public_port_stays() -> None:
    plan = cluster.plan(DEFAULTS, servers=3)
    ports = [port for pair in plan.pairs for port in (pair.rasa_port, pair.action_port)]
    assert len(set(ports)) == 6 and plan.public_port == int(DEFAULTS["RASA_PORT"])
    assert plan.public_port not in ports


def test_haproxy_accepts_the_configuration(tmp_path: Path) -> None:
    plan = cluster.plan(DEFAULTS, servers=2)
    config = cluster.write_haproxy_files(plan, tmp_path / "haproxy")
    binary = cluster.haproxy_binary(ClusterSettings.from_env())
    checked = subprocess.run(
        [binary, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    text = config.read_text()
    assert "balance hash req.body,json_query('$.sender')" in text, "REST by conversation"
    assert "balance source" in text, "socket.io stays on one server"
    assert "hash-balance-factor" in text, "no server takes far more than its share"
    assert text.count(" check inter ") == len(plan.pairs), "one health check per server"
    assert text.count(" track rest/rasa") == 2 * len(plan.pairs), "the other backends share it"
    layout = json.loads((tmp_path / "haproxy" / "cluster.json").read_text())
    assert [p["rasa_port"] for p in layout["pairs"]] == [p.rasa_port for p in plan.pairs]


def test_each_rasa_server_calls_its_own_action_server(tmp_path: Path) -> None:
    plan = cluster.plan(DEFAULTS, servers=2)
    started = cluster.servers(DEFAULTS, tmp_path / "logs", tmp_path / "m.tar.gz", plan, tmp_path)
    rasa = [p for p in started if p.name.startswith("rasa server")]
    actions = [p for p in started if p.name.startswith("action server")]
    assert [p.env_overrides["ACTION_ENDPOINT_URL"] for p in rasa] == [
        f"http://{DEFAULTS['ACTION_HOST']}:{pair.action_port}/webhook" for pair in plan.pairs
    ]
    assert [p.env_overrides["ACTION_PORT"] for p in actions] == [
        str(pair.action_port) for pair in plan.pairs
    ]
    assert len({p.log_file for p in started}) == len(started), "a log file each"
    assert started[-1].name == "haproxy"
    assert isinstance(started[-1], processes.ManagedProcess)
