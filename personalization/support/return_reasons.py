"""Why a customer sends something back, read from their own words.

Inside the return form a customer often says why before they are asked ("the vase arrived
chipped", "wrong size", "changed my mind"). Such a sentence is the return's reason, not an
answer to "which order?" and never a "no": it is kept, and the form goes on. The kind
decides a sentence of the confirmation (a damaged item costs the customer no postage) and
lets the shop count reasons; the customer's words are stored as said, masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from personalization.redaction import redact

MAX_REASON_CHARS = 300
# Reasons that are the shop's doing: the customer pays nothing to send the item back.
OUR_FAULT = frozenset({"damaged", "faulty", "wrong_item"})

_NOT = r"(?:don'?t|doesn'?t|didn'?t|do not|does not|did not|won'?t|isn'?t|is not)"
# Checked in this order: a "wrong size" is not a "wrong item", a broken item is damaged.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        (
            "damaged",
            r"\b(?:broken|broke|damaged?|chipped|chip|cracked|crack|smashed|shattered|scratched"
            r"|dented|snapped|torn|ripped|stained|leaking|leaked|in (?:bits|pieces))\b",
        ),
        (
            "faulty",
            rf"\b(?:faulty|defective|{_NOT} work(?:ing)?|not working|stopped working)\b",
        ),
        (
            "wrong_size",
            rf"\b(?:wrong size|too (?:big|small|large|short|long|tight|loose|narrow|wide)"
            rf"|{_NOT} fit)\b",
        ),
        (
            "wrong_item",
            r"\b(?:wrong (?:item|thing|one|product|colou?r|model|order)|not what i ordered"
            r"|sent (?:me )?(?:the )?wrong|someone else'?s)\b",
        ),
        (
            "not_as_expected",
            rf"\b(?:not (?:what|how) i (?:expected|imagined|thought)|not as (?:described|pictured"
            rf"|shown|advertised|expected)|(?:looks?|looked) (?:different|nothing like)"
            rf"|{_NOT} look (?:like|anything like) (?:the )?(?:photo|picture|pic|image)s?"
            rf"|{_NOT} (?:like|love) (?:it|them)|poor quality|cheap(?:ly)? made"
            rf"|disappoint(?:ed|ing)|not (?:very )?good)\b",
        ),
        (
            "changed_mind",
            r"\b(?:change?d? (?:my|our) minds?|no longer (?:need|want)"
            r"|(?:don'?t|do not) (?:need|want) (?:it|them)(?: any ?more)?"
            r"|(?:bought|ordered) (?:it |them )?by mistake"
            r"|found (?:it |them )?cheaper|unwanted|not needed)\b",
        ),
        ("late", r"\b(?:(?:arrived|came|too) (?:too )?late|missed the (?:date|occasion))\b"),
    )
)
# Calling off the return itself is not a reason for it ("I changed my mind about returning").
_CALLING_OFF = re.compile(
    r"\b(?:cancel|never ?mind|forget (?:it|about it)|stop"
    r"|changed? my mind about (?:the |this |that )?return(?:ing)?"
    r"|(?:don'?t|do not) want to return)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ReturnReason:
    kind: str  # "damaged", "faulty", "wrong_size", "wrong_item", "not_as_expected", ...
    start: int  # where the words naming it are in the text, to leave them out of item names
    end: int

    @property
    def our_fault(self) -> bool:
        return self.kind in OUR_FAULT


def reason_in(text: str | None) -> ReturnReason | None:
    """The reason a sentence gives for a return, or None when it gives none."""
    if not text or _CALLING_OFF.search(text):
        return None
    for kind, pattern in _KINDS:
        found = pattern.search(text)
        if found:
            return ReturnReason(kind, found.start(), found.end())
    return None


def reason_kind(text: str | None) -> str | None:
    """The kind of a reason in the customer's words: "other" for any words we cannot place."""
    if not text or not text.strip():
        return None
    found = reason_in(text)
    return found.kind if found else "other"


def without_reason(text: str) -> str:
    """The text with the words that give a reason left out, so "chipped" is not an item."""
    found = reason_in(text)
    if found is None:
        return text
    return f"{text[: found.start]} {text[found.end :]}"


def stored_reason(text: str | None) -> str | None:
    """The customer's words as kept with the return: masked, and of a bounded length."""
    if not text or not text.strip():
        return None
    return redact(text.strip())[:MAX_REASON_CHARS]
