from __future__ import annotations

import json

from channels.socketio import SESSION_ID, sign_customer, verified_metadata

KEY = "shop-signing-key"


def test_without_a_key_the_customer_id_is_taken_as_given() -> None:
    assert verified_metadata({"customer_id": "cust-0001"}, None) == {"customer_id": "cust-0001"}


def test_with_a_key_only_a_signed_customer_id_is_kept() -> None:
    signed = {"customer_id": "cust-0001", "customer_signature": sign_customer("cust-0001", KEY)}
    assert verified_metadata(signed, KEY) == {"customer_id": "cust-0001"}
    forged = {"customer_id": "cust-0002", "customer_signature": sign_customer("cust-0001", KEY)}
    assert verified_metadata(forged, KEY) == {}
    assert verified_metadata({"customer_id": "cust-0001", "page": "faq"}, KEY) == {"page": "faq"}


def test_odd_metadata_becomes_empty_or_loses_the_bad_id() -> None:
    assert verified_metadata("not json", None) == {}
    assert verified_metadata(json.dumps({"customer_id": "cust-0003"}), None) == {
        "customer_id": "cust-0003"
    }
    assert verified_metadata(["a", "list"], None) == {}
    assert verified_metadata({"customer_id": 42}, None) == {}


def test_session_ids_are_the_form_the_server_issues() -> None:
    assert SESSION_ID.match("0123456789abcdef0123456789abcdef")
    assert not SESSION_ID.match("cust-0001")
    assert not SESSION_ID.match("0123456789ABCDEF0123456789ABCDEF")
