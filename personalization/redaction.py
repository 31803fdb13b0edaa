"""Masking of personal data in text kept at rest: stored events, tickets and logs.

What is masked, and how it is found:

- emails: a bounded pattern (local part up to 64 characters, domain up to 8 labels);
- phone numbers: Google's ``phonenumbers`` (``PhoneNumberMatcher``, leniency VALID), in
  international form and in the national formats of :data:`PHONE_REGIONS`, run only on the
  short digit runs a bounded pattern picks out first;
- payment card numbers: 13 to 19 digits, optionally grouped by spaces or dashes, that pass
  the Luhn check (so order numbers and other long numbers stay readable);
- UK postcodes, and street addresses: a house number, up to four words and a street suffix.

Every pattern has bounded repetition only and no nested quantifier that can backtrack, and
the text is capped at :data:`MAX_CHARS`, so one masking costs time linear in the text and a
hostile message cannot stall the caller. Masking is best effort: a name, or an address with
no house number and no postcode, is not recognised.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from phonenumbers import Leniency, PhoneNumberMatcher

__all__ = [
    "MAX_CHARS",
    "PERSONAL_SLOTS",
    "SENSITIVE_RESPONSES",
    "WITHHELD",
    "redact",
    "redact_event",
]

#: Longer text is cut here before masking (and marked), so masking time stays bounded.
MAX_CHARS = 10_000
TRUNCATED = " [truncated]"

#: Bot responses that echo the customer's own data back (the data export). Their stored
#: events keep only the response name.
SENSITIVE_RESPONSES = frozenset({"utter_export"})

#: Slots whose value is itself personal data: the sign-in identifier (an email or customer
#: number), the order number used as a sign-in secret, and the customer's name.
PERSONAL_SLOTS = frozenset({"identity", "verification_order", "customer_name"})

#: What replaces a withheld reply or slot value.
WITHHELD = "[withheld: personal data]"

#: National formats recognised without a leading ``+``; international numbers always are.
PHONE_REGIONS = ("GB", "US")

# Keys whose values are opaque identifiers or hashes, never customer text: masking them
# would break the links erasure and analytics rely on.
_OPAQUE_KEYS = frozenset({"sender_id", "message_id", "model_id", "identity", "assistant_id"})
# Slots holding a proof of identity (customer id, channel, hashed client): kept as is so
# erasure can find the conversation.
_OPAQUE_SLOTS = frozenset({"identity_proof", "customer_id"})

# An email is found from its "@domain" and then its local part is read backwards (at most 64
# characters), so a long run of letters with no "@" costs nothing.
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
# 13-19 digits, each optionally followed by one space or dash; not inside a longer number
# or word.
_CARD = re.compile(r"(?<![0-9A-Za-z])(?:[0-9][ \-]?){12,18}[0-9](?![0-9A-Za-z])")
# A run that could hold a phone number; the phonenumbers library decides.
_PHONE_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])\+?\(?[0-9][0-9 ()\-.]{5,22}[0-9](?![0-9A-Za-z])")
_POSTCODE = re.compile(
    r"\b(?:[A-Za-z]{1,2}[0-9][A-Za-z0-9]?|GIR) ?[0-9][ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2}\b"
)
# Suffixes that are rarely anything but part of an address match in any case; those that are
# also everyday words ("by the way", "close") only when capitalised.
_SUFFIX = (
    r"(?:(?i:street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|crescent|cres|terrace|"
    r"gardens|gdns|grove|mews|parade|square|sq|drive|dr)"
    r"|Way|Close|Court|Ct|Place|Pl|Park|Walk|Row|Hill|Green|Rise|View)"
)
_ADDRESS = re.compile(
    r"\b[0-9]{1,5}[A-Za-z]?,?[ \t]{1,4}(?:[A-Za-z][A-Za-z'.\-]{0,29}[ \t]{1,4}){1,4}?"
    + _SUFFIX
    + r"\b\.?"
)


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    """Mask the longest run of whole digit groups that is a valid card number, if any.

    Groups rather than the whole match, so that "4111 1111 1111 1111 2" still masks the card.
    """
    text = match.group()
    groups = [(g.start(), g.end(), g.group()) for g in re.finditer(r"[0-9]+", text)]
    best: tuple[int, int] | None = None
    for first in range(len(groups)):
        digits = ""
        for last in range(first, len(groups)):
            digits += groups[last][2]
            if len(digits) > 19:
                break
            span = (groups[first][0], groups[last][1])
            if (
                len(digits) >= 13
                and _luhn(digits)
                and (best is None or span[1] - span[0] > best[1] - best[0])
            ):
                best = span
    if best is None:
        return text
    return text[: best[0]] + "[card]" + text[best[1] :]


def _emails(text: str) -> str:
    parts: list[str] = []
    cursor = 0
    for match in _EMAIL_DOMAIN.finditer(text):
        start = match.start()
        floor = max(cursor, start - 64)
        while start > floor and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        if start == match.start():
            continue  # "@name" with nothing before it is not an email
        parts.append(text[cursor:start])
        parts.append("[email]")
        cursor = match.end()
    parts.append(text[cursor:])
    return "".join(parts)


# A date at the start of a candidate ("2026-12-03 18" of a log timestamp) is not a phone.
_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[./\-][0-9]{1,2}[./\-][0-9]{2,4}")


def _phones(candidate: str) -> str:
    date = _DATE.match(candidate)
    if date:
        return candidate[: date.end()] + _phones(candidate[date.end() :])
    for region in PHONE_REGIONS:
        found = list(PhoneNumberMatcher(candidate, region, leniency=Leniency.VALID))
        if found:
            for match in reversed(found):
                candidate = candidate[: match.start] + "[phone]" + candidate[match.end :]
            return candidate
    return candidate


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# Every pattern above needs an ASCII digit, or "@" for an email: text with neither (intent
# names, most words of a conversation's events) has nothing to mask, and skips the patterns.
_MAYBE_PERSONAL = re.compile("[0-9@]")


def storable(text: str) -> str:
    """``text`` as PostgreSQL can store it: NUL bytes and lone surrogates (a client can send
    both) become U+FFFD, so a customer's odd message is kept, never an error."""
    return _UNSTORABLE.sub("\ufffd", text)


def storable_value(value: Any) -> Any:
    """Every string inside ``value`` (dicts, lists) made storable, for a JSON column."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): storable_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_value(v) for v in value]
    return value


def redact(text: str) -> str:
    """``text`` with emails, phone and card numbers, postcodes and street addresses masked,
    and made storable."""
    if not text:
        return text
    text = storable(text)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + TRUNCATED
    if _MAYBE_PERSONAL.search(text) is None:
        return text
    return _masked(text)


def _masked(text: str) -> str:
    text = _emails(text)
    text = _CARD.sub(_card, text)
    text = _PHONE_CANDIDATE.sub(lambda m: _phones(m.group()), text)
    text = _ADDRESS.sub("[address]", text)
    return _POSTCODE.sub("[postcode]", text)


def _redact_value(value: Any) -> Any:
    """Every string inside ``value`` masked, except opaque identifiers."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {
            key: item if key in _OPAQUE_KEYS else _redact_value(item) for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact_value(item) for item in value]
    return value


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a Rasa event (as brokers receive it) fit to be stored.

    Customer and bot text, entity values and metadata are masked. A reply that echoes the
    customer's data (:data:`SENSITIVE_RESPONSES`, named by Rasa in ``metadata.utter_action``)
    keeps only its response name. A personal slot's value is withheld.
    """
    kind = event.get("event")
    if kind == "bot" and _response_name(event) in SENSITIVE_RESPONSES:
        withheld = {k: copy.deepcopy(v) for k, v in event.items() if k not in ("data", "metadata")}
        withheld["text"] = WITHHELD
        withheld["data"] = {}
        withheld["metadata"] = {"utter_action": _response_name(event)}
        return withheld
    if kind == "slot":
        name = event.get("name")
        if name in _OPAQUE_SLOTS:
            return copy.deepcopy(dict(event))
        if name in PERSONAL_SLOTS:
            masked = copy.deepcopy(dict(event))
            if masked.get("value") is not None:
                masked["value"] = WITHHELD
            return masked
    return _redact_value(event)


def _response_name(event: Mapping[str, Any]) -> str | None:
    metadata = event.get("metadata")
    if isinstance(metadata, Mapping):
        name = metadata.get("utter_action")
        return name if isinstance(name, str) else None
    return None
