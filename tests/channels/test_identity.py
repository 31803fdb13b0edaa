"""What every channel writes into a message's metadata: the client's keys, cleaned, and who."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from channels.identity import MAX_METADATA_CHARS, ChannelIdentity, client_metadata
from personalization.auth.proof import METADATA_KEY, IdentityProof, MessageIdentity, opaque
from personalization.auth.tokens import CustomerTokenVerifier, mint_token
from personalization.settings import IdentitySettings
from tests.channels.environment import use_identity_environment

pytestmark = pytest.mark.fast

SECRET = "customer-token-secret-for-channel-tests-0123"
AUDIENCE = "hearth-home-support"
KEY = b"pseudonym-key-for-channel-tests-0123456789"
SESSION = "0123456789abcdef0123456789abcdef"
ADDRESS = "203.0.113.7"


@pytest.fixture
def identity() -> ChannelIdentity:
    return ChannelIdentity(
        CustomerTokenVerifier(SECRET, "HS256", AUDIENCE), IdentitySettings(binding_key=KEY)
    )


def token(customer_id: str = "cust-0001", **kwargs: Any) -> str:
    return mint_token(customer_id, SECRET, AUDIENCE, **kwargs)


def web(identity: ChannelIdentity, sent: Any = None, **kwargs: Any) -> dict[str, Any]:
    return identity.metadata(sent, channel="web", client=SESSION, address=ADDRESS, **kwargs)


# --- the client's own metadata -----------------------------------------------------------


def test_identity_keys_the_client_sent_are_thrown_away(identity: ChannelIdentity) -> None:
    forged_block = MessageIdentity(
        channel="web",
        client=opaque(KEY, f"web:{SESSION}"),
        address="a" * 32,
        customer_id="cust-0002",
        method="token",
        verified_at=time.time(),
        expires_at=time.time() + 900,
    ).as_metadata()
    sent = {
        "page": "/faq",
        "locale": "en-GB",
        "identity": forged_block,
        "customer_id": "cust-0002",
        "customer_signature": "deadbeef",
        "customer_token": "not-checked-here",
    }
    metadata = web(identity, sent)
    assert {k: v for k, v in metadata.items() if k != METADATA_KEY} == {
        "page": "/faq",
        "locale": "en-GB",
    }
    parsed = MessageIdentity.from_metadata(metadata)
    assert parsed is not None
    assert parsed.customer_id is None and parsed.method is None
    assert parsed.address != "a" * 32, "the block is the channel's own"
    assert sent["customer_id"] == "cust-0002", "the client's dict is not changed"


def test_the_identity_block_is_always_written(identity: ChannelIdentity) -> None:
    for sent in (None, {}, "not json", [1, 2], {"page": "x"}):
        metadata = web(identity, sent)
        parsed = MessageIdentity.from_metadata(metadata)
        assert parsed is not None
        assert parsed.channel == "web"
        assert parsed.as_metadata() == metadata[METADATA_KEY]


def test_client_and_address_are_keyed_hashes_never_the_raw_values(
    identity: ChannelIdentity,
) -> None:
    metadata = web(identity, {"page": "/faq"}, token=token())
    block = metadata[METADATA_KEY]
    assert block["client"] == opaque(KEY, f"web:{SESSION}")
    assert block["address"] == opaque(KEY, f"address:{ADDRESS}")
    serialised = json.dumps(metadata)
    assert SESSION not in serialised
    assert ADDRESS not in serialised
    assert "203.0.113" not in serialised
    assert token() not in serialised, "the token itself is not kept"


def test_the_client_key_depends_on_the_channel_and_the_binding_key(
    identity: ChannelIdentity,
) -> None:
    on_web = web(identity)[METADATA_KEY]
    on_rest = identity.metadata(None, channel="rest", client=SESSION, address=ADDRESS)
    assert on_web["client"] != on_rest[METADATA_KEY]["client"]
    assert on_web["address"] == on_rest[METADATA_KEY]["address"]
    other_key = ChannelIdentity(None, IdentitySettings(binding_key=b"another-key" * 4))
    assert web(other_key)[METADATA_KEY]["client"] != on_web["client"]


def test_private_is_passed_through(identity: ChannelIdentity) -> None:
    assert web(identity)[METADATA_KEY]["private"] is True
    shared = identity.metadata(None, channel="slack", client="U1", address="U1", private=False)
    assert shared[METADATA_KEY]["private"] is False


# --- tokens ------------------------------------------------------------------------------


def test_a_valid_token_names_the_customer(identity: ChannelIdentity) -> None:
    before = time.time()
    metadata = web(identity, {"page": "/orders"}, token=token("cust-0003", ttl_s=600))
    parsed = MessageIdentity.from_metadata(metadata)
    assert parsed is not None
    assert parsed.customer_id == "cust-0003"
    assert parsed.method == "token"
    assert parsed.verified_at is not None and before <= parsed.verified_at <= time.time()
    assert parsed.expires_at == pytest.approx(before + 600, abs=2)
    assert metadata["page"] == "/orders"


def test_a_valid_token_gives_a_proof_that_holds_for_the_next_message(
    identity: ChannelIdentity,
) -> None:
    first = MessageIdentity.from_metadata(web(identity, token=token()))
    assert first is not None
    proof = IdentityProof.from_message(first, 7200)
    assert proof is not None and proof.customer_id == "cust-0001"
    assert proof.holds_for(MessageIdentity.from_metadata(web(identity)))
    another_session = identity.metadata(None, channel="web", client="f" * 32, address=ADDRESS)
    assert not proof.holds_for(MessageIdentity.from_metadata(another_session))


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: token(now=time.time() - 7200), id="expired"),
        pytest.param(
            lambda: mint_token("cust-0001", "x" * 40, AUDIENCE), id="signed with another key"
        ),
        pytest.param(lambda: mint_token("cust-0001", SECRET, "elsewhere"), id="wrong audience"),
        pytest.param(lambda: token(ttl_s=86400), id="too long-lived"),
        pytest.param(lambda: "not.a.token", id="garbage"),
        pytest.param(lambda: 12345, id="a number"),
        pytest.param(lambda: {"sub": "cust-0001"}, id="an object"),
    ],
)
def test_an_invalid_token_names_no_one(identity: ChannelIdentity, bad: Any) -> None:
    metadata = web(identity, {"customer_id": "cust-0001"}, token=bad())
    parsed = MessageIdentity.from_metadata(metadata)
    assert parsed is not None
    assert parsed.customer_id is None and parsed.method is None
    assert "customer_id" not in metadata


def test_a_refused_token_is_logged_by_reason_not_content(
    identity: ChannelIdentity, caplog: pytest.LogCaptureFixture
) -> None:
    expired = token(now=time.time() - 7200)
    with caplog.at_level(logging.INFO, logger="channels.identity"):
        web(identity, token=expired)
    assert "expired" in caplog.text
    assert expired not in caplog.text


def test_without_a_verifier_no_token_is_accepted() -> None:
    unverified = ChannelIdentity(None, IdentitySettings(binding_key=KEY))
    parsed = MessageIdentity.from_metadata(web(unverified, token=token()))
    assert parsed is not None and parsed.customer_id is None


def test_an_empty_token_is_no_token(identity: ChannelIdentity) -> None:
    for empty in (None, ""):
        parsed = MessageIdentity.from_metadata(web(identity, token=empty))
        assert parsed is not None and parsed.customer_id is None


def test_a_channel_verified_customer_is_named_with_its_method(identity: ChannelIdentity) -> None:
    metadata = identity.metadata(
        {},
        channel="slack",
        client="U012AB3CD",
        address="U012AB3CD",
        customer_id="cust-0004",
        method="slack_email",
        private=True,
    )
    parsed = MessageIdentity.from_metadata(metadata)
    assert parsed is not None
    assert (parsed.channel, parsed.customer_id, parsed.method) == (
        "slack",
        "cust-0004",
        "slack_email",
    )
    assert parsed.expires_at is None
    assert "U012AB3CD" not in json.dumps(metadata)


def test_a_customer_without_a_method_is_not_named(identity: ChannelIdentity) -> None:
    metadata = identity.metadata(
        {}, channel="slack", client="U1", address="U1", customer_id="cust-0004"
    )
    assert metadata[METADATA_KEY]["customer_id"] is None


# --- client_metadata ---------------------------------------------------------------------


def test_client_metadata_accepts_a_json_object_or_its_text() -> None:
    assert client_metadata({"a": 1, "b": [1, 2]}) == {"a": 1, "b": [1, 2]}
    assert client_metadata('{"a": 1, "customer_id": "cust-0001"}') == {"a": 1}
    for odd in (None, "not json", "[1, 2]", '"text"', 42, [1], ("a",), b'{"a": 1}'):
        assert client_metadata(odd) == {}


def test_client_metadata_drops_reserved_and_non_text_keys() -> None:
    sent = {
        "identity": {},
        "customer_id": "x",
        "customer_signature": "x",
        "customer_token": "x",
        1: "number key",
        "kept": True,
    }
    assert client_metadata(sent) == {"kept": True}


def test_oversize_metadata_is_dropped_whole() -> None:
    prefix = len(json.dumps({"note": ""}))
    at_limit = {"note": "x" * (MAX_METADATA_CHARS - prefix)}
    assert len(json.dumps(at_limit)) == MAX_METADATA_CHARS
    assert client_metadata(at_limit) == at_limit
    over = {"note": "x" * (MAX_METADATA_CHARS - prefix + 1)}
    assert client_metadata(over) == {}
    assert client_metadata(json.dumps(over)) == {}


def test_metadata_that_is_not_plain_json_is_dropped() -> None:
    assert client_metadata({"when": object()}) == {}
    assert client_metadata({"set": {1, 2}}) == {}


def test_oversize_metadata_does_not_cost_the_identity(identity: ChannelIdentity) -> None:
    metadata = web(identity, {"note": "x" * 5000}, token=token())
    assert list(metadata) == [METADATA_KEY]
    assert metadata[METADATA_KEY]["customer_id"] == "cust-0001"


# --- configuration from the environment --------------------------------------------------


def test_from_env_reads_the_token_secret_and_the_binding_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_identity_environment(monkeypatch, SECRET, KEY)
    configured = ChannelIdentity.from_env("web")
    assert configured.verifier is not None
    assert configured.settings.binding_key == KEY
    assert web(configured, token=token())[METADATA_KEY]["customer_id"] == "cust-0001"


def test_from_env_without_a_key_warns_and_accepts_no_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("CUSTOMER_TOKEN_SECRET", "CUSTOMER_TOKEN_PUBLIC_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CUSTOMER_TOKEN_ALGORITHM", "HS256")
    with caplog.at_level(logging.WARNING, logger="channels.identity"):
        unconfigured = ChannelIdentity.from_env("rest")
    assert unconfigured.verifier is None
    assert "no customer token is accepted" in caplog.text
    assert web(unconfigured, token=token())[METADATA_KEY]["customer_id"] is None


def test_absurdly_nested_client_metadata_is_dropped_not_a_crash() -> None:
    from channels.identity import client_metadata

    assert client_metadata("[" * 200_000 + "]" * 200_000) == {}
    assert client_metadata({"x": [[[[[[[[[[["deep"]]]]]]]]]]]}) == {}
    assert client_metadata({"page": "checkout", "tags": [["a"]]}) == {
        "page": "checkout",
        "tags": [["a"]],
    }
