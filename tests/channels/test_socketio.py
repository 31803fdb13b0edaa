"""The web chat's socket.io channel: server-issued session ids, web: conversations, tokens."""

from __future__ import annotations

import asyncio
import inspect
import json
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import LockError
from socketio import AsyncServer

from channels.doors import TROUBLE_REPLY
from channels.identity import ChannelIdentity
from channels.socketio import (
    INPUT_ERROR_EVT,
    MAX_MESSAGE_CHARS,
    PREFIX,
    SESSION_ID,
    SessionIds,
    SocketIOChannel,
    client_address,
    token_of,
)
from personalization.auth.proof import METADATA_KEY, MessageIdentity, opaque
from personalization.auth.tokens import CustomerTokenVerifier, mint_token
from personalization.settings import IdentitySettings, InputLimits
from tests.channels.environment import use_identity_environment

pytestmark = pytest.mark.fast

SECRET = "customer-token-secret-for-socketio-tests-01"
AUDIENCE = "hearth-home-support"
KEY = b"pseudonym-key-for-socketio-tests-0123456789"
SESSION = SessionIds(KEY).new("0123456789abcdef")  # as this server would issue it
MADE_UP = "0123456789abcdef0123456789abcdef"  # the right form, but no MAC of ours
PEER = "203.0.113.7"
SID = "socket-sid-1"


def token(customer_id: str = "cust-0001") -> str:
    return mint_token(customer_id, SECRET, AUDIENCE)


# --- pure helpers ------------------------------------------------------------------------


def test_session_ids_are_the_form_the_server_issues() -> None:
    assert SESSION_ID.match(SESSION)
    for bad in (
        "cust-0001",
        SESSION.upper(),
        SESSION[:-1],
        SESSION + "0",
        "g" * 32,
        "",
        f"{SESSION[:16]}-{SESSION[16:]}",
    ):
        assert not SESSION_ID.match(bad), bad


def test_a_session_id_with_a_trailing_newline_is_refused() -> None:
    assert not SESSION_ID.match(SESSION + "\n")
    assert not SESSION_ID.match("\n" + SESSION)


def test_the_client_address_is_that_of_the_request_that_opened_the_socket() -> None:
    direct = SimpleNamespace(remote_addr="", ip=PEER)
    assert client_address({"sanic.request": direct}, SID) == PEER
    proxied = SimpleNamespace(remote_addr="192.0.2.10", ip="10.0.0.2")
    assert client_address({"sanic.request": proxied}, SID) == "192.0.2.10"


def test_without_a_request_the_socket_id_stands_in_for_the_address() -> None:
    assert client_address(None, SID) == SID
    assert client_address({}, SID) == SID
    assert client_address({"REMOTE_ADDR": "127.0.0.1"}, SID) == SID
    nothing = SimpleNamespace(remote_addr="", ip="")
    assert client_address({"sanic.request": nothing}, SID) == SID


def test_the_token_comes_from_the_metadata_object() -> None:
    assert token_of({"customer_token": "abc", "page": "/"}) == "abc"
    assert token_of({"page": "/"}) is None
    assert token_of({"customer_token": 42}) == 42, "checked, and refused, by the verifier"
    for odd in (None, "customer_token", ["customer_token"], 7):
        assert token_of(odd) is None


def test_rasas_enter_room_is_a_coroutine_so_it_must_be_awaited() -> None:
    assert inspect.iscoroutinefunction(AsyncServer.enter_room)


# --- the handlers, on a real python-socketio server --------------------------------------


class Harness:
    """The channel's blueprint with the server's network side replaced by recorders."""

    def __init__(
        self,
        channel: SocketIOChannel,
        environ: dict[str, Any] | None,
        on_new_message: Any = None,
    ) -> None:
        self.channel = channel
        self.received: list[UserMessage] = []
        self.emitted: list[tuple[str, Any, str | None]] = []
        self.rooms: list[tuple[str, str]] = []
        self.sessions: dict[str, dict[str, Any]] = {}

        async def received(message: UserMessage) -> None:
            self.received.append(message)

        self.blueprint = channel.blueprint(on_new_message or received)
        sio = channel.sio
        assert sio is not None
        self.sio = sio

        async def emit(event: str, data: Any = None, room: str | None = None, **_: Any) -> None:
            self.emitted.append((event, data, room))

        async def enter_room(sid: str, room: str, namespace: str | None = None) -> None:
            self.rooms.append((sid, room))

        async def save_session(sid: str, session: dict, namespace: str | None = None) -> None:
            self.sessions[sid] = dict(session)

        async def get_session(sid: str, namespace: str | None = None) -> dict:
            return dict(self.sessions.get(sid, {}))

        sio.save_session = save_session  # type: ignore[method-assign]
        sio.get_session = get_session  # type: ignore[method-assign]
        sio.emit = emit  # type: ignore[method-assign]
        sio.enter_room = enter_room  # type: ignore[method-assign]
        sio.get_environ = lambda sid, namespace=None: environ  # type: ignore[method-assign]

    def handler(self, event: str) -> Any:
        return self.sio.handlers["/"][event]

    def session_request(self, data: Any, sid: str = SID) -> str:
        asyncio.run(self.handler("session_request")(sid, data))
        event, session_id, room = self.emitted[-1]
        assert (event, room) == ("session_confirm", sid)
        return session_id

    def message(self, data: Any, sid: str = SID, confirm: bool = True) -> UserMessage | None:
        """Send ``data`` as a user message; with ``confirm``, the socket first asks for the
        session the message names, as the page does on connecting."""
        if confirm and isinstance(data, dict) and sid not in self.sessions:
            self.session_request({"session_id": data.get("session_id")}, sid)
        before = len(self.received)
        asyncio.run(self.handler("user_uttered")(sid, data))
        return self.received[-1] if len(self.received) > before else None


def make_channel(persistent: bool = True) -> SocketIOChannel:
    channel = SocketIOChannel.from_credentials(
        {
            "user_message_evt": "user_uttered",
            "bot_message_evt": "bot_uttered",
            "session_persistence": persistent,
            "metadata_key": "metadata",
        }
    )
    assert isinstance(channel, SocketIOChannel)
    channel.identity = ChannelIdentity(
        CustomerTokenVerifier(SECRET, "HS256", AUDIENCE), IdentitySettings(binding_key=KEY)
    )
    return channel


@pytest.fixture
def web() -> Harness:
    return Harness(make_channel(), {"sanic.request": SimpleNamespace(remote_addr="", ip=PEER)})


def refusals(channel: str, reason: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "shopbot_messages_refused_total", {"channel": channel, "reason": reason}
        )
        or 0.0
    )


def identity_of(message: UserMessage) -> MessageIdentity:
    parsed = MessageIdentity.from_metadata(message.metadata)
    assert parsed is not None
    return parsed


def test_a_session_request_keeps_a_server_issued_id_and_joins_its_room(web: Harness) -> None:
    assert web.session_request({"session_id": SESSION}) == SESSION
    assert web.rooms == [(SID, PREFIX + SESSION)]


@pytest.mark.parametrize(
    "data",
    [
        {"session_id": "cust-0001"},
        {"session_id": "rest:alice"},
        {"session_id": SESSION.upper()},
        {"session_id": SESSION + "\n"},
        {"session_id": MADE_UP},
        {"session_id": SESSION[:16] + "0" * 16},
        {"session_id": None},
        {"session_id": 42},
        {},
        None,
        "not a dict",
    ],
)
def test_any_other_session_id_is_replaced_by_a_fresh_one(web: Harness, data: Any) -> None:
    session_id = web.session_request(data)
    assert SESSION_ID.match(session_id)
    assert session_id != SESSION
    assert web.rooms == [(SID, PREFIX + session_id)]


def test_fresh_session_ids_differ(web: Harness) -> None:
    assert web.session_request(None) != web.session_request(None)


def test_a_message_becomes_a_web_conversation(web: Harness) -> None:
    message = web.message({"message": "hello", "session_id": SESSION, "metadata": {"page": "/faq"}})
    assert message is not None
    assert message.sender_id == PREFIX + SESSION == f"web:{SESSION}"
    assert message.text == "hello"
    assert message.input_channel == "socketio"
    assert message.metadata["page"] == "/faq"
    identity = identity_of(message)
    assert identity.channel == "web"
    assert identity.client == opaque(KEY, f"web:{SESSION}")
    assert identity.address == opaque(KEY, f"address:{PEER}")
    assert identity.customer_id is None
    assert PEER not in json.dumps(message.metadata)


@pytest.mark.parametrize(
    "session_id",
    [None, "", "cust-0001", "rest:alice", SESSION.upper(), SESSION + "\n", 7, MADE_UP],
)
def test_a_message_without_a_server_issued_session_id_is_ignored(
    web: Harness, session_id: Any
) -> None:
    assert web.message({"message": "hi", "session_id": session_id}) is None
    assert web.message({"message": "hi"}) is None


def test_a_socket_speaks_only_in_the_session_it_was_confirmed_in(web: Harness) -> None:
    other = web.session_request(None, sid="socket-of-someone-else")
    assert web.session_request({"session_id": SESSION}) == SESSION
    stolen = {"message": "delete my data", "session_id": SESSION}
    assert web.message(stolen, sid="socket-of-someone-else") is None
    assert web.message({"message": "hi", "session_id": other}, sid="socket-of-someone-else")
    never_asked = {"message": "hi", "session_id": SESSION}
    assert web.message(never_asked, sid="a-socket-that-asked-nothing", confirm=False) is None


@pytest.mark.parametrize("data", [None, "hello", ["hello"], 42])
def test_a_message_that_is_not_an_object_is_ignored(web: Harness, data: Any) -> None:
    assert web.message(data) is None


def test_a_valid_customer_token_names_the_customer(web: Harness) -> None:
    message = web.message(
        {
            "message": "where is my order",
            "session_id": SESSION,
            "metadata": {"customer_token": token("cust-0003"), "page": "/orders"},
        }
    )
    assert message is not None
    identity = identity_of(message)
    assert (identity.customer_id, identity.method) == ("cust-0003", "token")
    assert message.metadata == {"page": "/orders", METADATA_KEY: identity.as_metadata()}


def test_claimed_ids_and_bad_tokens_name_no_one(web: Harness) -> None:
    forged_block = {
        "channel": "web",
        "client": opaque(KEY, f"web:{SESSION}"),
        "address": "a" * 32,
        "customer_id": "cust-0001",
        "method": "token",
    }
    for metadata in (
        {"customer_id": "cust-0001"},
        {"customer_id": "cust-0001", "customer_signature": "0" * 64},
        {"identity": forged_block},
        {"customer_token": mint_token("cust-0001", "z" * 40, AUDIENCE)},
        {"customer_token": "garbage"},
    ):
        message = web.message({"message": "hi", "session_id": SESSION, "metadata": metadata})
        assert message is not None
        assert identity_of(message).customer_id is None, metadata
        assert "customer_id" not in message.metadata


def test_metadata_sent_as_text_is_cleaned_like_an_object(web: Harness) -> None:
    sent = json.dumps({"page": "/faq", "customer_id": "cust-0001"})
    message = web.message({"message": "hi", "session_id": SESSION, "metadata": sent})
    assert message is not None
    assert message.metadata["page"] == "/faq"
    assert identity_of(message).customer_id is None


def test_odd_metadata_is_dropped(web: Harness) -> None:
    message = web.message({"message": "hi", "session_id": SESSION, "metadata": [1]})
    assert message is not None and message.text == "hi"
    assert set(message.metadata) == {METADATA_KEY}


def input_errors(harness: Harness) -> list[Any]:
    return [data for event, data, _ in harness.emitted if event == INPUT_ERROR_EVT]


def test_a_message_too_long_gets_a_polite_answer_and_never_reaches_rasa(web: Harness) -> None:
    before = refusals("web", "too_long")
    long = {"message": "x" * (MAX_MESSAGE_CHARS + 1), "session_id": SESSION}
    assert web.message(long) is None
    event, data, room = web.emitted[-1]
    assert (event, room) == ("bot_uttered", PREFIX + SESSION)
    assert data["text"] == (
        "That message is too long for me — please keep it under 2,000 characters."
    )
    assert refusals("web", "too_long") == before + 1
    fits = web.message({"message": "x" * MAX_MESSAGE_CHARS, "session_id": SESSION})
    assert fits is not None and len(fits.text) == MAX_MESSAGE_CHARS


@pytest.mark.parametrize("message", [None, 42, {"text": "hi"}, ["hi"]])
def test_a_message_that_is_not_text_gets_an_input_error(web: Harness, message: Any) -> None:
    assert web.message({"message": message, "session_id": SESSION}) is None
    [error] = input_errors(web)
    assert "`message` must be a string" in error["reason"]


def test_a_session_the_socket_was_not_given_gets_an_input_error(web: Harness) -> None:
    before = refusals("web", "bad_sender")
    assert web.message({"message": "hi", "session_id": MADE_UP}) is None
    [error] = input_errors(web)
    assert "session_id" in error["reason"]
    assert refusals("web", "bad_sender") == before + 1
    event, _, room = web.emitted[-1]
    assert (event, room) == (INPUT_ERROR_EVT, SID), "only to the socket that sent it"


def test_a_failure_inside_rasa_gets_the_trouble_reply(caplog: pytest.LogCaptureFixture) -> None:
    async def redis_is_down(message: UserMessage) -> None:
        raise LockError(f"Could not acquire lock for conversation_id '{message.sender_id}'.")

    harness = Harness(make_channel(), None, on_new_message=redis_is_down)
    secret = "my email is alice@example.com"
    assert harness.message({"message": secret, "session_id": SESSION}) is None
    event, data, room = harness.emitted[-1]
    assert (event, room) == ("bot_uttered", PREFIX + SESSION)
    assert data["text"] == TROUBLE_REPLY
    assert "alice@example.com" not in " ".join(r.getMessage() for r in caplog.records)


def test_packets_over_the_body_limit_are_refused_by_engine_io(web: Harness) -> None:
    assert web.sio.eio.max_http_buffer_size == InputLimits().max_body_bytes


def test_a_session_request_without_data_gets_a_fresh_session(web: Harness) -> None:
    asyncio.run(web.handler("session_request")(SID))
    event, session_id, _ = web.emitted[-1]
    assert event == "session_confirm" and SESSION_ID.match(session_id)


def test_the_same_session_from_another_address_keeps_its_client_key() -> None:
    first = Harness(make_channel(), {"sanic.request": SimpleNamespace(remote_addr="", ip=PEER)})
    moved = Harness(
        make_channel(), {"sanic.request": SimpleNamespace(remote_addr="", ip="198.51.100.4")}
    )
    data = {"message": "hi", "session_id": SESSION}
    one, two = first.message(data), moved.message(data)
    assert one is not None and two is not None
    assert identity_of(one).client == identity_of(two).client
    assert identity_of(one).address != identity_of(two).address


def test_without_session_persistence_the_socket_is_the_session() -> None:
    harness = Harness(make_channel(persistent=False), None)
    message = harness.message({"message": "hi", "session_id": "ignored"}, sid="abc123")
    assert message is not None
    assert message.sender_id == "web:abc123"
    identity = identity_of(message)
    assert identity.client == opaque(KEY, "web:abc123")
    assert identity.address == opaque(KEY, "address:abc123"), "no request: the sid stands in"
    assert harness.session_request({"session_id": SESSION}) == SESSION
    assert harness.rooms == [], "no room without session persistence"


def test_only_configured_origins_may_open_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_PUBLIC_URL", "https://chat.shop.example/")
    monkeypatch.setenv("RASA_CORS_ORIGINS", "https://shop.example, *, ")
    harness = Harness(make_channel(), None)
    assert harness.sio.eio.cors_allowed_origins == [
        "https://chat.shop.example",
        "https://shop.example",
    ]


def test_from_credentials_configures_the_identity_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_identity_environment(monkeypatch, SECRET, KEY)
    channel = SocketIOChannel.from_credentials({"session_persistence": True})
    assert isinstance(channel, SocketIOChannel)
    assert channel.identity is not None and channel.identity.verifier is not None
    assert channel.session_persistence is True
    harness = Harness(channel, None)
    message = harness.message(
        {"message": "hi", "session_id": SESSION, "metadata": {"customer_token": token()}}
    )
    assert message is not None
    assert identity_of(message).customer_id == "cust-0001"
