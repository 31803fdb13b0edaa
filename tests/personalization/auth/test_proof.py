"""Message identities and conversation proofs: what a channel vouched for, and when it holds."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from personalization.auth.proof import (
    METADATA_KEY,
    IdentityProof,
    MessageIdentity,
    opaque,
)

pytestmark = pytest.mark.fast

KEY = b"binding-key-for-tests-0123456789"
NOW = 1_750_000_000.0
TTL = 7200.0


def block(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "channel": "web",
        "client": opaque(KEY, "web:0123456789abcdef0123456789abcdef"),
        "address": opaque(KEY, "address:203.0.113.7"),
        "private": True,
        "customer_id": None,
        "method": None,
        "verified_at": None,
        "expires_at": None,
    }
    values.update(overrides)
    return values


def message(**overrides: Any) -> MessageIdentity:
    parsed = MessageIdentity.from_metadata({METADATA_KEY: block(**overrides)})
    assert parsed is not None
    return parsed


def proof(**overrides: Any) -> IdentityProof:
    values: dict[str, Any] = {
        "customer_id": "cust-0001",
        "channel": "web",
        "method": "sign_in",
        "client": block()["client"],
        "verified_at": NOW,
        "expires_at": NOW + TTL,
    }
    values.update(overrides)
    return IdentityProof(**values)


# --- opaque keys -------------------------------------------------------------------------


def test_opaque_keys_are_stable_keyed_and_hide_the_value() -> None:
    first = opaque(KEY, "address:203.0.113.7")
    assert first == opaque(KEY, "address:203.0.113.7")
    assert first != opaque(KEY, "address:203.0.113.8")
    assert first != opaque(b"another-key-for-tests-0123456789", "address:203.0.113.7")
    assert len(first) == 32 and int(first, 16) >= 0
    assert "203.0.113.7" not in first


# --- MessageIdentity.from_metadata -------------------------------------------------------


def test_a_well_formed_block_round_trips() -> None:
    identity = MessageIdentity(
        channel="rest",
        client="c" * 32,
        address="a" * 32,
        private=True,
        customer_id="cust-0001",
        method="token",
        verified_at=NOW,
        expires_at=NOW + 900,
    )
    parsed = MessageIdentity.from_metadata({"page": "faq", METADATA_KEY: identity.as_metadata()})
    assert parsed == identity


def test_an_anonymous_block_has_no_customer() -> None:
    identity = message()
    assert identity.channel == "web"
    assert identity.customer_id is None and identity.method is None
    assert identity.verified_at is None and identity.expires_at is None


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        "identity",
        ["identity"],
        {},
        {"customer_id": "cust-0001"},
        {METADATA_KEY: None},
        {METADATA_KEY: "web"},
        {METADATA_KEY: ["web", "client", "address"]},
        {METADATA_KEY: {}},
    ],
)
def test_absent_or_malformed_blocks_are_dropped(metadata: Any) -> None:
    assert MessageIdentity.from_metadata(metadata) is None


@pytest.mark.parametrize("channel", ["email", "socketio", "REST", "", None, 1, "slack "])
def test_blocks_of_unknown_channels_are_dropped(channel: Any) -> None:
    assert MessageIdentity.from_metadata({METADATA_KEY: block(channel=channel)}) is None


@pytest.mark.parametrize("field", ["client", "address"])
@pytest.mark.parametrize("value", [None, "", 42, ["x"], "x" * 129])
def test_blocks_without_a_usable_client_or_address_are_dropped(field: str, value: Any) -> None:
    assert MessageIdentity.from_metadata({METADATA_KEY: block(**{field: value})}) is None


@pytest.mark.parametrize(
    "customer_id",
    ["cust 0001", "../cust-0001", "x" * 65, "", 1, True, ["cust-0001"], "ċust", "cust-0001\n"],
)
def test_an_invalid_customer_id_leaves_the_sender_anonymous(customer_id: Any) -> None:
    identity = message(customer_id=customer_id, method="token", verified_at=NOW, expires_at=NOW)
    assert identity.customer_id is None
    assert identity.method is None
    assert identity.verified_at is None and identity.expires_at is None
    assert identity.channel == "web", "the rest of the block is kept"


@pytest.mark.parametrize("method", [None, "", "password", "claimed", "TOKEN", 1])
def test_a_customer_without_a_known_method_is_dropped(method: Any) -> None:
    identity = message(customer_id="cust-0001", method=method, verified_at=NOW)
    assert identity.customer_id is None and identity.method is None


def test_private_must_be_exactly_true() -> None:
    assert message(private=True).private is True
    for value in ("true", 1, "yes", None, False):
        assert message(private=value).private is False
    without = block()
    del without["private"]
    parsed = MessageIdentity.from_metadata({METADATA_KEY: without})
    assert parsed is not None and parsed.private is False


def test_times_must_be_numbers() -> None:
    identity = message(customer_id="cust-0001", method="token", verified_at="now", expires_at=True)
    assert identity.customer_id == "cust-0001"
    assert identity.verified_at is None and identity.expires_at is None
    identity = message(customer_id="cust-0001", method="token", verified_at=5, expires_at=6.5)
    assert (identity.verified_at, identity.expires_at) == (5.0, 6.5)


# --- IdentityProof: slots and construction -----------------------------------------------


def test_a_proof_round_trips_through_its_slot() -> None:
    original = proof(method="token", channel="rest")
    slot = original.as_slot()
    assert set(slot) == {
        "customer_id",
        "channel",
        "method",
        "client",
        "verified_at",
        "expires_at",
    }
    assert IdentityProof.from_slot(slot) == original


@pytest.mark.parametrize(
    "change",
    [
        {"customer_id": "cust 0001"},
        {"customer_id": None},
        {"customer_id": "cust-0001\n"},
        {"channel": "email"},
        {"method": "claimed"},
        {"client": ""},
        {"client": None},
        {"verified_at": None},
        {"verified_at": "yesterday"},
        {"expires_at": None},
        {"expires_at": True},
    ],
)
def test_a_malformed_slot_is_no_proof(change: dict[str, Any]) -> None:
    assert IdentityProof.from_slot({**proof().as_slot(), **change}) is None


@pytest.mark.parametrize("value", [None, "cust-0001", ["cust-0001"], {}, 42])
def test_a_slot_that_is_not_a_mapping_is_no_proof(value: Any) -> None:
    assert IdentityProof.from_slot(value) is None


def test_a_proof_from_a_verified_message_lasts_the_ttl() -> None:
    verified = message(
        channel="rest", customer_id="cust-0002", method="token", verified_at=NOW, expires_at=NOW
    )
    made = IdentityProof.from_message(verified, TTL)
    assert made == IdentityProof("cust-0002", "rest", "token", verified.client, NOW, NOW + TTL)


def test_an_anonymous_message_gives_no_proof() -> None:
    assert IdentityProof.from_message(message(), TTL) is None


def test_a_verified_message_without_a_time_is_proven_now() -> None:
    verified = message(customer_id="cust-0002", method="slack_email", channel="slack")
    before = time.time()
    made = IdentityProof.from_message(verified, TTL)
    assert made is not None
    assert before <= made.verified_at <= time.time()
    assert made.expires_at == pytest.approx(made.verified_at + TTL)


def test_a_sign_in_proof_binds_the_message_channel_and_client() -> None:
    sender = message(channel="slack")
    before = time.time()
    made = IdentityProof.signed_in("cust-0003", sender, TTL)
    assert (made.customer_id, made.channel, made.method, made.client) == (
        "cust-0003",
        "slack",
        "sign_in",
        sender.client,
    )
    assert before <= made.verified_at <= time.time()
    assert made.expires_at == pytest.approx(made.verified_at + TTL)
    assert IdentityProof.from_slot(made.as_slot()) == made


# --- IdentityProof.holds_for -------------------------------------------------------------


def test_the_same_client_on_the_same_channel_holds() -> None:
    assert proof().holds_for(message(), now=NOW + 60)


def test_no_message_does_not_hold() -> None:
    assert not proof().holds_for(None, now=NOW + 60)


def test_another_client_does_not_hold() -> None:
    other = message(client=opaque(KEY, "web:ffffffffffffffffffffffffffffffff"))
    assert not proof().holds_for(other, now=NOW + 60)


def test_another_channel_does_not_hold_even_with_the_same_client_key() -> None:
    same_key = block()["client"]
    for channel in ("rest", "slack"):
        assert not proof().holds_for(message(channel=channel, client=same_key), now=NOW + 60)


def test_another_channel_does_not_hold_even_with_its_own_proof_of_the_customer() -> None:
    proven_elsewhere = message(channel="slack", customer_id="cust-0001", method="slack_email")
    assert not proof().holds_for(proven_elsewhere, now=NOW + 60)


def test_an_expired_proof_does_not_hold() -> None:
    assert not proof().holds_for(message(), now=NOW + TTL)
    assert not proof().holds_for(message(), now=NOW + TTL + 1)
    assert proof().holds_for(message(), now=NOW + TTL - 1)


def test_the_clock_is_used_when_no_time_is_given() -> None:
    current = proof(verified_at=time.time() - 10, expires_at=time.time() + 600)
    assert current.holds_for(message())
    past = proof(verified_at=time.time() - 600, expires_at=time.time() - 1)
    assert not past.holds_for(message())


def test_a_message_proving_the_same_customer_holds_even_after_expiry() -> None:
    late = NOW + TTL * 10
    own_proof = message(customer_id="cust-0001", method="token", verified_at=late)
    assert proof().holds_for(own_proof, now=late)
    # ... and from another client of the same channel too: the message proves itself.
    elsewhere = replace(own_proof, client=opaque(KEY, "web:another-session"))
    assert proof().holds_for(elsewhere, now=late)


def test_a_message_proving_another_customer_does_not_borrow_this_proof_elsewhere() -> None:
    other_customer = message(
        customer_id="cust-0002",
        method="token",
        client=opaque(KEY, "web:ffffffffffffffffffffffffffffffff"),
    )
    assert not proof().holds_for(other_customer, now=NOW + 60)


def test_on_rest_a_token_proof_needs_the_token_on_every_message() -> None:
    rest_client = opaque(KEY, "rest:203.0.113.7")
    token_proof = proof(channel="rest", method="token", client=rest_client)
    without_token = message(channel="rest", client=rest_client)
    assert not token_proof.holds_for(without_token, now=NOW + 60)
    with_token = message(
        channel="rest", client=rest_client, customer_id="cust-0001", method="token"
    )
    assert token_proof.holds_for(with_token, now=NOW + 60)
    another_customers_token = replace(with_token, customer_id="cust-0002")
    assert not token_proof.holds_for(another_customers_token, now=NOW + 60)


def test_on_rest_a_sign_in_proof_holds_for_the_same_client() -> None:
    rest_client = opaque(KEY, "rest:203.0.113.7")
    signed_in = proof(channel="rest", method="sign_in", client=rest_client)
    assert signed_in.holds_for(message(channel="rest", client=rest_client), now=NOW + 60)
    other = message(channel="rest", client=opaque(KEY, "rest:198.51.100.1"))
    assert not signed_in.holds_for(other, now=NOW + 60)


def test_web_token_proofs_hold_for_the_same_session() -> None:
    token_proof = proof(method="token")
    assert token_proof.holds_for(message(), now=NOW + 60)
    assert not token_proof.holds_for(message(), now=NOW + TTL)
