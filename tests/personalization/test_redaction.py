"""Masking of personal data before text is stored."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalization import redaction
from personalization.redaction import MAX_CHARS, WITHHELD, redact, redact_event

pytestmark = pytest.mark.fast

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at john.smith+shop@example.co.uk now", "mail me at [email] now"),
        ("JANE_DOE@Mail.Example.COM.", "[email]."),
        ("call 07911 123456 or 07911123456", "call [phone] or [phone]"),
        ("+44 20 7946 0958, or 020 7946 0958", "[phone], or [phone]"),
        ("+44 (0)7911 123456 please", "[phone] please"),
        ("US: (212) 736-5000 or 415-555-2671", "US: [phone] or [phone]"),
        ("+1 415 555 2671", "[phone]"),
        ("card 4111 1111 1111 1111 exp 12/27", "card [card] exp 12/27"),
        ("4111-1111-1111-1111 and 5500005555555559", "[card] and [card]"),
        ("I live at 221B Baker Street, London NW1 6XE", "I live at [address], London [postcode]"),
        ("flat 2, 10 downing st, sw1a 2aa", "flat 2, [address], [postcode]"),
        ("deliver to 4 Acacia Avenue or 7 Ivy Close", "deliver to [address] or [address]"),
        ("postcode EC1A 1BB / M1 1AE / B33 8TH", "postcode [postcode] / [postcode] / [postcode]"),
    ],
)
def test_personal_data_is_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "where is my order 536365?",
        "order DEMO-1234-05 for cust-0001, placed on 2024-05-01 at 10:30",
        "it cost £25.50 and I want 2 by the way",
        "ref 4111111111111112 failed",  # 16 digits that fail the Luhn check
        "tracking 1234 5678 9012 3456",
        "I bought 3 lamps, the 2nd one broke",
        "",
    ],
)
def test_ordinary_text_and_numbers_are_kept(text: str) -> None:
    assert redact(text) == text


def test_identifiers_are_rarely_mistaken_for_personal_data() -> None:
    ids = [uuid.uuid4().hex for _ in range(2000)]
    assert sum(redact(i) != i for i in ids) <= 2


ADVERSARIAL = {
    "letters": "a" * 100_000,
    "letters and digits": "a1" * 50_000,
    "digits": "1" * 100_000,
    "spaced digits": "1 " * 50_000,
    "dashed digits": "1-" * 50_000,
    "at signs": "a@" * 50_000,
    "domain labels": "a@b" + ".b" * 50_000,
    "almost emails": ("x" * 63 + "@") * 1_600,
    "almost addresses": "12 abc " * 15_000,
    "almost postcodes": "a1 " * 33_334,
    "phone punctuation": "+(1) " * 20_000,
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_masking_time_is_linear_on_hostile_text(name: str) -> None:
    text = ADVERSARIAL[name]
    assert len(text) >= 100_000 - 10
    started = time.perf_counter()
    masked = redact(text)
    assert time.perf_counter() - started < 0.75  # about 0.3 s at worst on a laptop
    assert len(masked) <= MAX_CHARS + 20


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_every_pattern_is_linear_even_without_the_length_cap(name: str) -> None:
    """The cap bounds the phone library's work; the patterns must not need it."""
    text = ADVERSARIAL[name]
    for pattern in (
        redaction._EMAIL_DOMAIN,
        redaction._CARD,
        redaction._PHONE_CANDIDATE,
        redaction._ADDRESS,
        redaction._POSTCODE,
    ):
        started = time.perf_counter()
        sum(1 for _ in pattern.finditer(text))
        assert time.perf_counter() - started < 0.5, pattern.pattern


def user_event(text: str) -> dict:
    return {
        "sender_id": "conv-1",
        "event": "user",
        "timestamp": 1.0,
        "text": text,
        "parse_data": {
            "text": text,
            "intent": {"name": "identify", "confidence": 0.98},
            "entities": [{"entity": "email", "value": "jane@example.com", "start": 5}],
        },
        "metadata": {"identity": {"channel": "rest", "client": "0123456789" * 3 + "ab"}},
        "message_id": "5500005555555559",
    }


def test_a_user_event_is_masked_everywhere_but_its_identifiers() -> None:
    original = user_event("I'm jane@example.com, call me on 07911 123456")
    masked = redact_event(original)
    assert masked["text"] == masked["parse_data"]["text"] == "I'm [email], call me on [phone]"
    assert masked["parse_data"]["entities"][0]["value"] == "[email]"
    assert masked["parse_data"]["intent"] == {"name": "identify", "confidence": 0.98}
    assert masked["metadata"] == original["metadata"], "opaque hashes are kept"
    assert masked["sender_id"] == "conv-1" and masked["message_id"] == "5500005555555559"
    assert original["text"].startswith("I'm jane@"), "the caller's event is not changed"


def test_personal_slots_are_withheld_and_the_proof_kept() -> None:
    identity = {"event": "slot", "name": "identity", "value": "jane@example.com"}
    reset = {"event": "slot", "name": "identity", "value": None}
    proof_value = {"customer_id": "cust-0001", "client": "4111111111111111"}
    proof = {"event": "slot", "name": "identity_proof", "value": proof_value}
    note = {"event": "slot", "name": "return_item", "value": "lamp, call 07911 123456"}
    assert redact_event(identity)["value"] == WITHHELD
    assert redact_event(reset)["value"] is None
    assert redact_event(proof) == proof
    assert redact_event(note)["value"] == "lamp, call [phone]"


def test_a_reply_from_a_sensitive_response_is_withheld() -> None:
    """The event exactly as Rasa 3.6 records a custom action's utter_message(response=...)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load(PROJECT_ROOT / "domain.yml")
    summary = "Name: Jane Doe\nEmail: jane@example.com\nOrders: 536365"
    bot_events = asyncio.run(
        RemoteAction._utter_responses(
            [{"response": "utter_export", "summary": summary}],
            CollectingOutputChannel(),
            TemplatedNaturalLanguageGenerator(domain.responses),
            DialogueStateTracker("conv-1", domain.slots),
        )
    )
    stored = redact_event({"sender_id": "conv-1", **bot_events[0].as_dict()})
    assert stored["text"] == WITHHELD
    assert stored["metadata"] == {"utter_action": "utter_export"}
    assert "Jane" not in repr(stored) and "536365" not in repr(stored)

    other = {"event": "bot", "text": "Mail us at help@example.com", "metadata": {}}
    assert redact_event(other)["text"] == "Mail us at [email]"


def test_log_timestamps_and_dates_are_not_phone_numbers() -> None:
    assert redact("2026-12-03 18:04:33.186 INFO ready") == "2026-12-03 18:04:33.186 INFO ready"
    assert redact("03/12/2026 call +44 20 7946 0958") == "03/12/2026 call [phone]"


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab Zé@.-+()0159٣\u00a0\nStreetRoadGIRW")) | st.characters(),
        max_size=80,
    )
)
def test_text_skipped_for_having_no_digit_or_at_sign_is_masked_as_the_patterns_would(
    text: str,
) -> None:
    """The shortcut for text with no ASCII digit and no "@" changes no result."""
    assert redact(text) == redaction._masked(redaction.storable(text))
