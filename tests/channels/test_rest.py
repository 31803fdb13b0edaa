"""The REST channel on real Sanic requests: its own id space, a bearer token, 400 for bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from prometheus_client import REGISTRY
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import LockError
from sanic import Sanic
from sanic.compat import Header
from sanic.handlers import ErrorHandler
from sanic.models.server_types import ConnInfo
from sanic.request import Request

from channels import parsing
from channels.doors import TROUBLE_REPLY, BodyTooLarge
from channels.identity import ChannelIdentity
from channels.rest import (
    MAX_MESSAGE_CHARS,
    PREFIX,
    BadRestRequest,
    RestChannel,
    bearer_token,
    client_address,
)
from personalization.auth.proof import METADATA_KEY, MessageIdentity, opaque
from personalization.auth.tokens import CustomerTokenVerifier, mint_token
from personalization.settings import IdentitySettings, InputLimits
from tests.channels.environment import use_identity_environment

pytestmark = pytest.mark.fast

SECRET = "customer-token-secret-for-rest-tests-012345"
AUDIENCE = "hearth-home-support"
KEY = b"pseudonym-key-for-rest-tests-0123456789"
PEER = "203.0.113.7"

APP = Sanic("rest_channel_tests")
PROXIED_APP = Sanic("rest_channel_tests_behind_a_proxy")
PROXIED_APP.config.PROXIES_COUNT = 1


class Transport:
    """What Sanic asks of a connection's transport."""

    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer, "sockname": ("127.0.0.1", 5005)}.get(name, default)


def request(
    body: Any = None,
    headers: dict[str, str] | None = None,
    peer: str = PEER,
    app: Sanic = APP,
    raw: bytes | None = None,
    path: bytes = b"/webhooks/rest/webhook",
) -> Request:
    transport = Transport((peer, 51000))
    made = Request(path, Header(headers or {}), "1.1", "POST", transport, app)
    made.body = raw if raw is not None else json.dumps(body).encode()
    made.conn_info = ConnInfo(transport)
    return made


def token(customer_id: str = "cust-0001", **kwargs: Any) -> str:
    return mint_token(customer_id, SECRET, AUDIENCE, **kwargs)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def channel() -> RestChannel:
    rest = RestChannel()
    rest.identity = ChannelIdentity(
        CustomerTokenVerifier(SECRET, "HS256", AUDIENCE), IdentitySettings(binding_key=KEY)
    )
    return rest


def sender(channel: RestChannel, body: Any) -> str:
    return asyncio.run(channel._extract_sender(request(body)))


def bad_request(call: Any, *args: Any) -> BadRestRequest:
    with pytest.raises(BadRestRequest) as caught:
        result = call(*args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    assert caught.value.status_code == 400
    return caught.value


# --- the conversation id -----------------------------------------------------------------


@pytest.mark.parametrize(
    "given", ["alice", "cust-0001", "a.b_c-d:e@f", "x" * 128, "0123456789abcdef" * 2, "A"]
)
def test_the_sender_is_prefixed_into_the_rest_id_space(channel: RestChannel, given: str) -> None:
    assert sender(channel, {"sender": given, "message": "hi"}) == PREFIX + given
    assert PREFIX == "rest:"


@pytest.mark.parametrize(
    "given",
    [
        "",
        "x" * 129,
        "a b",
        "a/b",
        "../etc",
        "ä",
        "tab\there",
        "semi;colon",
        None,
        42,
        ["alice"],
        {"id": "alice"},
    ],
)
def test_a_bad_sender_is_a_400(channel: RestChannel, given: Any) -> None:
    error = bad_request(channel._extract_sender, request({"sender": given, "message": "hi"}))
    assert "sender" in str(error)


@pytest.mark.parametrize("given", ["alice\n", "alice\r\n", "\nalice", "alice\x00"])
def test_a_sender_with_control_characters_is_a_400(channel: RestChannel, given: str) -> None:
    bad_request(channel._extract_sender, request({"sender": given, "message": "hi"}))


def test_a_missing_sender_is_a_400(channel: RestChannel) -> None:
    bad_request(channel._extract_sender, request({"message": "hi"}))


@pytest.mark.parametrize(
    "raw", [b"not json", b"", b"[1, 2]", b'"alice"', b"null", b"{broken"], ids=repr
)
def test_a_body_that_is_not_a_json_object_is_a_400(channel: RestChannel, raw: bytes) -> None:
    error = bad_request(channel._extract_sender, request(raw=raw))
    assert "JSON object" in str(error)
    bad_request(channel._extract_message, request(raw=raw))
    bad_request(channel.get_metadata, request(raw=raw))


def test_the_400_reaches_the_caller_with_its_reason(channel: RestChannel) -> None:
    bad = request({"sender": "a b", "message": "hi"})
    with pytest.raises(BadRestRequest) as caught:
        asyncio.run(channel._extract_sender(bad))
    answer = ErrorHandler().default(bad, caught.value)
    assert answer.status == 400
    assert b"`sender` must be 1 to 128" in answer.body


@pytest.mark.parametrize("message", [None, 42, ["hi"], {"text": "hi"}])
def test_a_message_that_is_not_text_is_a_400(channel: RestChannel, message: Any) -> None:
    error = bad_request(channel._extract_message, request({"sender": "a", "message": message}))
    assert "message" in str(error)


def test_the_message_text_is_passed_on(channel: RestChannel) -> None:
    assert channel._extract_message(request({"sender": "a", "message": "where is it"})) == (
        "where is it"
    )
    assert channel._extract_message(request({"sender": "a", "message": ""})) == ""


def test_the_input_channel_is_always_rest(channel: RestChannel) -> None:
    for claimed in ("slack", "socketio", "web", None):
        body = {"sender": "a", "message": "hi", "input_channel": claimed}
        assert channel._extract_input_channel(request(body)) == "rest"
    assert RestChannel.name() == "rest"


# --- the bearer token --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("Bearer ", None),
        ("Bearer", None),
        ("Basic dXNlcjpwYXNz", None),
        ("Token abc", None),
        ("Bearerabc", None),
        ("", None),
    ],
)
def test_the_bearer_token_comes_from_the_authorization_header(
    header: str, expected: str | None
) -> None:
    assert bearer_token(request({}, {"Authorization": header})) == expected


def test_without_an_authorization_header_there_is_no_token() -> None:
    assert bearer_token(request({}, {"X-Customer-Token": token()})) is None


# --- metadata ----------------------------------------------------------------------------


def identity_of(metadata: dict[str, Any]) -> MessageIdentity:
    parsed = MessageIdentity.from_metadata(metadata)
    assert parsed is not None
    return parsed


def test_a_valid_bearer_token_names_the_customer(channel: RestChannel) -> None:
    body = {"sender": "anything", "message": "hi", "metadata": {"page": "/orders"}}
    metadata = channel.get_metadata(request(body, bearer(token("cust-0002"))))
    identity = identity_of(metadata)
    assert (identity.channel, identity.customer_id, identity.method) == (
        "rest",
        "cust-0002",
        "token",
    )
    assert metadata["page"] == "/orders"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no header"),
        pytest.param(bearer(mint_token("cust-0001", "y" * 40, AUDIENCE)), id="another key"),
        pytest.param(bearer("garbage"), id="garbage"),
        pytest.param({"Authorization": f"Basic {token()}"}, id="not bearer"),
    ],
)
def test_without_a_valid_bearer_token_no_one_is_named(
    channel: RestChannel, headers: dict[str, str]
) -> None:
    body = {
        "sender": "cust-0001",
        "message": "hi",
        "metadata": {
            "customer_id": "cust-0001",
            "customer_token": token(),
            "identity": {
                "channel": "rest",
                "client": "c" * 32,
                "address": "a" * 32,
                "customer_id": "cust-0001",
                "method": "token",
            },
        },
    }
    metadata = channel.get_metadata(request(body, headers))
    assert identity_of(metadata).customer_id is None
    assert set(metadata) == {METADATA_KEY}


def test_the_client_is_a_hash_of_the_peer_address(channel: RestChannel) -> None:
    metadata = channel.get_metadata(request({"sender": "a", "message": "hi"}))
    identity = identity_of(metadata)
    assert identity.client == opaque(KEY, f"rest:{PEER}")
    assert identity.address == opaque(KEY, f"address:{PEER}")
    assert PEER not in json.dumps(metadata)
    other = identity_of(channel.get_metadata(request({"sender": "a"}, peer="198.51.100.1")))
    assert other.client != identity.client


def test_a_forwarded_for_header_is_not_trusted_without_a_proxy_configured() -> None:
    spoofed = request({}, {"X-Forwarded-For": "192.0.2.99"})
    assert client_address(spoofed) == PEER
    proxied = request({}, {"X-Forwarded-For": "192.0.2.99"}, app=PROXIED_APP)
    assert client_address(proxied) == "192.0.2.99"


def test_without_an_identity_the_channel_configures_one_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_identity_environment(monkeypatch, SECRET, KEY)
    configured = RestChannel.from_credentials(None)
    assert isinstance(configured, RestChannel)
    assert configured.identity is not None and configured.identity.verifier is not None
    metadata = configured.get_metadata(request({"sender": "a"}, bearer(token())))
    assert identity_of(metadata).customer_id == "cust-0001"
    assert identity_of(RestChannel().get_metadata(request({"sender": "a"}))).channel == "rest"


# --- the whole webhook -------------------------------------------------------------------


def receive_handler(channel: RestChannel, received: list[UserMessage]) -> Any:
    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "hello there")

    blueprint = channel.blueprint(on_new_message)
    [route] = [r for r in blueprint._future_routes if r.uri == "/webhook"]
    return route.handler


def test_the_webhook_hands_rasa_a_rest_conversation(channel: RestChannel) -> None:
    received: list[UserMessage] = []
    handler = receive_handler(channel, received)
    body = {
        "sender": "cust-0002",
        "message": "where is my order",
        "input_channel": "slack",
        "metadata": {"customer_id": "cust-0002", "page": "/help"},
    }
    answer = asyncio.run(handler(request(body, bearer(token("cust-0001")))))
    [message] = received
    # The token's customer scopes the id: the sender names only one of her conversations.
    assert message.sender_id == "rest:cust-0001+cust-0002"
    assert message.input_channel == "rest"
    assert message.text == "where is my order"
    assert message.metadata["page"] == "/help"
    assert "customer_id" not in message.metadata
    assert identity_of(message.metadata).customer_id == "cust-0001", "the token, not the sender"
    assert answer.status == 200
    assert json.loads(answer.body) == [
        {"recipient_id": "rest:cust-0001+cust-0002", "text": "hello there"}
    ]


def test_the_webhook_refuses_a_bad_sender_before_rasa_sees_it(channel: RestChannel) -> None:
    received: list[UserMessage] = []
    handler = receive_handler(channel, received)
    with pytest.raises(BadRestRequest):
        asyncio.run(handler(request({"sender": "slack:U1 C1", "message": "hi"})))
    with pytest.raises(BadRestRequest):
        asyncio.run(handler(request(raw=b"sender=alice&message=hi")))
    assert received == []


def test_a_token_scopes_the_conversation_to_its_customer(channel: RestChannel) -> None:
    body = {"sender": "shared-phone", "message": "hi"}

    def conversation(headers: dict[str, str] | None = None) -> str:
        return asyncio.run(channel._extract_sender(request(body, headers)))

    assert conversation() == "rest:shared-phone"
    assert conversation(bearer(token("cust-0001"))) == "rest:cust-0001+shared-phone"
    assert conversation(bearer(token("cust-0002"))) == "rest:cust-0002+shared-phone"
    assert conversation(bearer("not-a-token")) == "rest:shared-phone"


def webhook(channel: RestChannel, on_new_message: Any) -> Any:
    blueprint = channel.blueprint(on_new_message)
    [route] = [r for r in blueprint._future_routes if r.uri == "/webhook"]
    return route.handler


def refusals(channel: str, reason: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "shopbot_messages_refused_total", {"channel": channel, "reason": reason}
        )
        or 0.0
    )


def test_a_message_too_long_gets_a_polite_answer_and_never_reaches_rasa(
    channel: RestChannel,
) -> None:
    received: list[UserMessage] = []
    handler = receive_handler(channel, received)
    before = refusals("rest", "too_long")
    fits = {"sender": "s", "message": "x" * MAX_MESSAGE_CHARS}
    assert channel._extract_message(request(fits)) == fits["message"]
    answer = asyncio.run(handler(request({"sender": "s", "message": "x" * 100_000})))
    assert answer.status == 200
    assert json.loads(answer.body) == [
        {
            "recipient_id": "rest:s",
            "text": "That message is too long for me — please keep it under 2,000 characters.",
        }
    ]
    assert received == [], "Rasa never saw it"
    assert refusals("rest", "too_long") == before + 1
    asyncio.run(handler(request(fits)))
    assert len(received) == 1, "a message at the limit goes through"


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "10")
    use_identity_environment(monkeypatch, SECRET, KEY)
    configured = RestChannel.from_credentials(None)
    assert isinstance(configured, RestChannel)
    received: list[UserMessage] = []
    handler = receive_handler(configured, received)
    answer = asyncio.run(handler(request({"sender": "s", "message": "x" * 11})))
    assert "under 10 characters" in json.loads(answer.body)[0]["text"]
    asyncio.run(handler(request({"sender": "s", "message": "x" * 10})))
    assert [m.text for m in received] == ["x" * 10]


def test_a_body_over_the_size_limit_is_a_413(
    channel: RestChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel.limits = InputLimits(max_message_chars=2000, max_body_bytes=10_000)
    received: list[UserMessage] = []
    handler = receive_handler(channel, received)
    before = refusals("rest", "body_too_large")
    with pytest.raises(BodyTooLarge) as caught:
        asyncio.run(handler(request({"sender": "s", "message": "x" * 20_000})))
    assert caught.value.status_code == 413
    declared = request({"sender": "s", "message": "hi"}, {"Content-Length": "999999"})
    with pytest.raises(BodyTooLarge):
        asyncio.run(handler(declared))
    assert received == []
    assert refusals("rest", "body_too_large") == before + 2
    answer = ErrorHandler().default(declared, caught.value)
    assert answer.status == 413 and b"at most 10000 bytes" in answer.body


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe not utf-8",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"sender": "a", "message": "hi"',
        b'{"sender": "a", "message": "hi"} trailing',
        b"NaN",
        b"\x00",
    ],
    ids=["bad utf-8", "deep nesting", "truncated", "trailing", "nan", "nul"],
)
def test_any_malformed_body_is_a_400_never_a_500(channel: RestChannel, raw: bytes) -> None:
    received: list[UserMessage] = []
    handler = receive_handler(channel, received)
    with pytest.raises(BadRestRequest) as caught:
        asyncio.run(handler(request(raw=raw)))
    assert caught.value.status_code == 400
    assert received == []


@pytest.mark.parametrize(
    "body",
    [
        {"sender": "a", "message": None},
        {"sender": "a", "message": 1},
        {"sender": "a", "message": ["hi"]},
        {"sender": ["a"], "message": "hi"},
        {"sender": "a" * 129, "message": "hi"},
        {"sender": "a\u0000b", "message": "hi"},
        {"sender": "a\u202eb", "message": "hi"},
    ],
)
def test_wrong_types_and_bad_senders_at_the_webhook_are_400s(
    channel: RestChannel, body: dict[str, Any]
) -> None:
    received: list[UserMessage] = []
    handler = receive_handler(channel, received)
    before = refusals("rest", "bad_request") + refusals("rest", "bad_sender")
    with pytest.raises(BadRestRequest):
        asyncio.run(handler(request(body)))
    assert received == []
    assert refusals("rest", "bad_request") + refusals("rest", "bad_sender") >= before + 1


def test_a_failure_inside_rasa_gets_the_trouble_reply_and_no_text_in_the_log(
    channel: RestChannel, caplog: pytest.LogCaptureFixture
) -> None:
    async def redis_is_down(message: UserMessage) -> None:
        raise LockError(f"Could not acquire lock for conversation_id '{message.sender_id}'.")

    async def something_else_broke(message: UserMessage) -> None:
        raise ValueError(f"cannot handle {message.text!r}")

    secret = "my card is 4111 1111 1111 1111"
    for failing in (redis_is_down, something_else_broke):
        caplog.clear()
        answer = asyncio.run(webhook(channel, failing)(request({"sender": "s", "message": secret})))
        assert answer.status == 200
        assert json.loads(answer.body) == [{"recipient_id": "rest:s", "text": TROUBLE_REPLY}]
        assert "We're having trouble right now" in TROUBLE_REPLY
        assert caplog.records, "the failure is logged"
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "4111" not in logged and secret not in logged
    assert "LockError" in logged or "ValueError" in logged


def test_replies_sent_before_a_failure_are_kept_and_followed_by_the_trouble_reply(
    channel: RestChannel,
) -> None:
    async def fails_after_replying(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "Here you are")
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    answer = asyncio.run(
        webhook(channel, fails_after_replying)(request({"sender": "s", "message": "hi"}))
    )
    assert [m["text"] for m in json.loads(answer.body)] == ["Here you are", TROUBLE_REPLY]


def test_the_channel_moves_parsing_off_the_event_loop(channel: RestChannel) -> None:
    receive_handler(channel, [])
    assert parsing.installed()
