"""The commands that start the servers: no secret on a command line, where `ps` shows it."""

from __future__ import annotations

import sys
from pathlib import Path

from stack import processes

SECRETS = {
    "ACTION_SERVER_TOKEN": "action-server-secret-" + "a" * 40,
    "CUSTOMER_TOKEN_SECRET": "customer-token-secret-" + "c" * 40,
    "PSEUDONYM_KEY": "pseudonym-key-" + "p" * 40,
    "IDENTITY_KEY": "identity-key-" + "i" * 40,
    "RASA_API_TOKEN": "rasa-api-token-" + "r" * 40,
    "REDIS_PASSWORD": "redis-password-" + "x" * 20,
    "SLACK_TOKEN": "xoxb-slack-token-" + "s" * 20,
    "SLACK_SIGNING_SECRET": "slack-signing-secret-" + "g" * 20,
}
ENV = {
    "RASA_HOST": "127.0.0.1",
    "RASA_PORT": "5005",
    "ACTION_HOST": "127.0.0.1",
    "ACTION_PORT": "5055",
    "RASA_ENABLE_API": "1",
    "RASA_AUTH_TOKEN": "legacy-auth-token-" + "l" * 20,
    "DATABASE_URL": "postgresql://shop:db-password-123@db.internal/shop",
    **SECRETS,
}


def visible(server: processes.ManagedProcess) -> str:
    return " ".join([*server.command, server.ready_url])


def test_rasa_starts_through_the_guarded_launcher(tmp_path: Path) -> None:
    model = tmp_path / "models" / "support.tar.gz"
    rasa = processes.rasa_server(ENV, tmp_path / "logs", model)
    assert rasa.command == [sys.executable, "-m", "stack.rasa_server", "--model", str(model)]
    assert rasa.ready_url == "http://127.0.0.1:5005/webhooks/rest/", "a channel, open to all"
    assert rasa.log_file == tmp_path / "logs" / "rasa.log"


def test_no_secret_is_on_a_command_line_or_in_a_ready_url(tmp_path: Path) -> None:
    servers = [
        processes.rasa_server(ENV, tmp_path, tmp_path / "model.tar.gz"),
        processes.action_server(ENV, tmp_path),
    ]
    for server in servers:
        line = visible(server)
        for name in (*SECRETS, "RASA_AUTH_TOKEN"):
            assert ENV[name] not in line, f"{name} on the command line of {server.name}"
        assert "db-password-123" not in line
        assert "--auth-token" not in line and "token=" not in line


def test_the_action_server_is_rasa_sdk_with_its_health_check(tmp_path: Path) -> None:
    action = processes.action_server(ENV, tmp_path)
    assert action.command[:3] == [sys.executable, "-m", "rasa_sdk"]
    assert action.command[action.command.index("--port") + 1] == "5055"
    assert action.ready_url == "http://127.0.0.1:5055/health", "the one open path"


def test_server_logs_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    server = processes.ManagedProcess(
        name="probe",
        command=[sys.executable, "-c", "print('started')"],
        ready_url="http://127.0.0.1:1/",
        log_file=tmp_path / "logs" / "probe.log",
    )
    server.start({}, tmp_path)
    assert server.popen is not None and server.popen.wait(timeout=30) == 0
    assert server.log_file.read_text().strip() == "started"
    assert server.log_file.stat().st_mode & 0o077 == 0
