"""`python -m stack.rasa_server`: Rasa's HTTP API off by default, behind a token when on."""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic, response
from sanic.request import Request

from personalization.settings import ConfigurationError, RasaServerSettings
from stack import rasa_server
from stack.rasa_server import guarded, is_loopback, is_public, rasa_arguments
from tests.stack.asgi import Client, bearer

TOKEN = "rasa-api-token-" + "t" * 40
ARGS = argparse.Namespace(
    model="models/20241123-support.tar.gz",
    endpoints="endpoints.yml",
    credentials="credentials.yml",
)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("192.168.1.20", False),
        ("shop.example.com", False),
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/", True),
        ("/webhooks/rest/webhook", True),
        ("/webhooks/rest/", True),
        ("/webhooks/chat/", True),
        ("/webhooks/slack/webhook", True),
        ("/socket.io/", True),
        ("/status", False),
        ("/version", False),
        ("/model", False),
        ("/model/parse", False),
        ("/conversations/rest:me/tracker", False),
        ("/conversations/rest:me/tracker/events", False),
        ("/webhooks", False),
        ("/webhook", False),
    ],
)
def test_is_public(path: str, public: bool) -> None:
    assert is_public(path) is public


@pytest.fixture
def no_rasa_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "RASA_HOST",
        "RASA_PORT",
        "RASA_ENABLE_API",
        "RASA_API_TOKEN",
        "RASA_API_TOKEN_FILE",
        "RASA_PUBLIC_URL",
        "RASA_CORS_ORIGINS",
        "RASA_MESSAGE_CONCURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_rasa_arguments_never_carry_the_token(no_rasa_env: pytest.MonkeyPatch) -> None:
    no_rasa_env.setenv("RASA_PUBLIC_URL", "https://shop.example.com/")
    no_rasa_env.setenv("RASA_CORS_ORIGINS", "*, https://www.shop.example.com")
    settings = RasaServerSettings(host="0.0.0.0", port=5006, enable_api=True, api_token=TOKEN)
    argv = rasa_arguments(ARGS, settings)
    assert argv[:4] == ["rasa", "run", "--model", ARGS.model]
    assert TOKEN not in " ".join(argv)
    assert "--auth-token" not in argv and "--jwt-secret" not in argv
    assert argv[argv.index("--interface") + 1] == "0.0.0.0"
    assert argv[argv.index("--port") + 1] == "5006"
    assert argv[argv.index("--endpoints") + 1] == "endpoints.yml"
    assert argv[argv.index("--credentials") + 1] == "credentials.yml"
    assert argv[-1] == "--enable-api"
    origins = argv[argv.index("--cors") + 1 : -1]
    assert origins == ["https://shop.example.com", "https://www.shop.example.com"]
    assert "*" not in argv, "never every origin"


def test_without_the_api_rasa_is_not_asked_to_enable_it(no_rasa_env: pytest.MonkeyPatch) -> None:
    argv = rasa_arguments(ARGS, RasaServerSettings())
    assert "--enable-api" not in argv
    assert argv[argv.index("--interface") + 1] == "127.0.0.1"
    origins = argv[argv.index("--cors") + 1 :]
    assert origins == ["http://127.0.0.1:5005", "http://localhost:5005", "http://[::1]:5005"]


@pytest.fixture
def rasa_unimportable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any import of rasa fails: a check that main() returned before it."""
    for name in ("rasa", "rasa.__main__", "rasa.core.run"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("rasa_unimportable")
def test_the_api_on_a_public_interface_without_a_token_is_refused_before_rasa_loads(
    no_rasa_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_rasa_env.setenv("RASA_ENABLE_API", "1")
    no_rasa_env.setenv("RASA_HOST", "0.0.0.0")
    argv_before = list(sys.argv)
    assert rasa_server.main(["--model", ARGS.model]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to serve Rasa's HTTP API on 0.0.0.0 without a token")
    assert sys.argv == argv_before


@pytest.mark.usefixtures("rasa_unimportable")
def test_an_unreadable_token_file_is_a_clear_error(
    no_rasa_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    no_rasa_env.setenv("RASA_ENABLE_API", "1")
    no_rasa_env.setenv("RASA_API_TOKEN_FILE", str(tmp_path / "missing.token"))
    assert rasa_server.main(["--model", ARGS.model]) == 2
    assert "RASA_API_TOKEN_FILE cannot be read" in capsys.readouterr().err


@pytest.mark.usefixtures("rasa_unimportable")
@pytest.mark.parametrize(
    "env",
    [
        {"RASA_ENABLE_API": "1", "RASA_HOST": "127.0.0.1"},  # loopback: 401 to every call
        {"RASA_ENABLE_API": "1", "RASA_HOST": "0.0.0.0", "RASA_API_TOKEN": TOKEN},
        {"RASA_ENABLE_API": "0", "RASA_HOST": "0.0.0.0"},  # channels only
    ],
    ids=["loopback-no-token", "public-with-token", "public-api-off"],
)
def test_other_set_ups_go_on_to_start_rasa(
    no_rasa_env: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name, value in env.items():
        no_rasa_env.setenv(name, value)
    with pytest.raises(ImportError):  # rasa itself, which this test made unimportable
        rasa_server.main(["--model", ARGS.model])


def test_the_token_file_is_read_from_the_environment(
    no_rasa_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "rasa-api.token").write_text(TOKEN + "\n")
    no_rasa_env.setenv("RASA_API_TOKEN_FILE", str(tmp_path / "rasa-api.token"))
    assert RasaServerSettings.from_env().api_token == TOKEN


@pytest.fixture
def api(sanic_test_mode: None) -> Iterator[Client]:
    """An app like Rasa's, configured through the guarded configure_app."""

    def configure_app(*args: Any, **kwargs: Any) -> Sanic:
        app = Sanic("t" + uuid.uuid4().hex)

        async def ok(request: Request, **_: Any) -> Any:
            return response.json({"path": request.path})

        app.add_route(ok, "/")
        app.add_route(ok, "/status")
        app.add_route(ok, "/conversations/<conversation_id>/tracker")
        app.add_route(ok, "/webhooks/rest/webhook", methods=["POST"])
        app.add_route(ok, "/webhooks/rest/", methods=["GET"])
        return app

    client = Client(guarded(configure_app, TOKEN)())
    yield client
    client.close()


def test_the_http_api_needs_the_bearer_token(api: Client) -> None:
    assert api.get("/status").status == 401
    assert api.get("/conversations/rest:me/tracker").status == 401
    assert api.get(f"/status?token={TOKEN}").status == 401, "no token in URLs and access logs"
    assert api.get("/status", headers=bearer("x" + TOKEN)).status == 401
    assert api.get("/status", headers=bearer(TOKEN)).status == 200
    reply = api.get("/conversations/rest:me/tracker", headers=bearer(TOKEN))
    assert reply.status == 200


def test_the_channels_stay_open(api: Client) -> None:
    assert api.post("/webhooks/rest/webhook", {"sender": "me", "message": "hi"}).status == 200
    assert api.get("/webhooks/rest/").status == 200, "the stack's readiness check"
    assert api.get("/").status == 200


def test_with_an_empty_token_the_api_refuses_everything(sanic_test_mode: None) -> None:
    app = Sanic("t" + uuid.uuid4().hex)

    @app.get("/status")
    async def status(request: Request) -> Any:
        return response.json({})

    rasa_server.install_api_guard(app, "")
    client = Client(app)
    try:
        assert client.get("/status").status == 401
        assert client.get("/status", headers={"authorization": "Bearer "}).status == 401
    finally:
        client.close()


def test_the_port_accepts_connections_before_rasa_serves_them() -> None:
    """Bound early, the port holds a client's connection (no refusal) until the server runs."""
    import socket

    from stack.listening import listen_early

    sock = listen_early("127.0.0.1", 0, backlog=8)
    try:
        port = sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
            client.sendall(b"GET /webhooks/rest/ HTTP/1.1\r\nHost: x\r\n\r\n")
            accepted, _ = sock.accept()  # what Sanic does once the model is loaded
            with accepted:
                assert accepted.recv(64).startswith(b"GET /webhooks/rest/")
    finally:
        sock.close()


def test_a_socket_passed_down_is_served_and_anything_else_is_refused() -> None:
    import socket

    import pytest

    from stack.listening import inherited, listen_early

    held = listen_early("127.0.0.1", 0, backlog=8)
    try:
        child = inherited(held.fileno())  # as the Rasa server finds RASA_LISTEN_FD
        assert child.getsockname() == held.getsockname()
        child.detach()
    finally:
        held.close()
    plain = socket.socket()
    try:
        with pytest.raises(ValueError, match="not a listening TCP socket"):
            inherited(plain.fileno())
    finally:
        plain.close()


def test_message_concurrency_comes_from_the_environment(no_rasa_env: pytest.MonkeyPatch) -> None:
    assert RasaServerSettings.from_env().message_concurrency == 0
    no_rasa_env.setenv("RASA_MESSAGE_CONCURRENCY", "1")
    assert RasaServerSettings.from_env().message_concurrency == 1
    no_rasa_env.setenv("RASA_MESSAGE_CONCURRENCY", "-1")
    with pytest.raises(ConfigurationError, match="RASA_MESSAGE_CONCURRENCY"):
        RasaServerSettings.from_env()
