"""Support language that general sentiment lexicons miss.

"Still waiting for my refund, third time asking" has no negative word in VADER's lexicon, yet
every support agent reads it as an unhappy customer. These phrases and markers carry that
knowledge. Valences are on VADER's scale (-4 to +4).
"""

from __future__ import annotations

import re

SUPPORT_PHRASES: dict[str, float] = {
    # things that went wrong
    "never arrived": -2.6,
    "hasn't arrived": -2.2,
    "has not arrived": -2.2,
    "not arrived": -2.2,
    "didn't arrive": -2.3,
    "did not arrive": -2.3,
    "not received": -2.2,
    "haven't received": -2.2,
    "have not received": -2.2,
    "still not received": -2.6,
    "still waiting": -2.4,
    "still no": -2.2,
    "still haven't": -2.4,
    "charged twice": -2.8,
    "double charged": -2.8,
    "overcharged": -2.5,
    "wrong item": -2.2,
    "wrong order": -2.2,
    "wrong size": -1.6,
    "missing item": -2.2,
    "missing items": -2.2,
    "arrived damaged": -2.6,
    "arrived broken": -2.6,
    "was damaged": -2.3,
    "is damaged": -2.3,
    "was broken": -2.3,
    "is broken": -2.3,
    "stopped working": -2.3,
    "doesn't work": -2.2,
    "does not work": -2.2,
    "not working": -2.2,
    "no reply": -2.2,
    "no response": -2.2,
    "no one replied": -2.4,
    "nobody replied": -2.4,
    "no answer": -2.0,
    "on hold": -1.4,
    "been waiting": -2.0,
    "waiting for weeks": -2.8,
    "waiting for days": -2.4,
    "where is my": -1.2,
    "where's my": -1.2,
    "how much longer": -2.0,
    "how long do i": -1.6,
    "want a refund": -1.8,
    "want my money back": -2.6,
    "money back": -1.8,
    "cancel my order": -1.4,
    "cancel my account": -1.8,
    "close my account": -1.8,
    "speak to a manager": -2.2,
    "speak to a human": -1.6,
    "talk to a human": -1.6,
    "real person": -1.0,
    "make a complaint": -2.4,
    "file a complaint": -2.4,
    "nothing yet": -2.0,
    "still nothing": -2.4,
    "heard nothing": -2.2,
    "third time": -2.0,
    "second time": -1.5,
    "several times": -1.8,
    "many times": -1.8,
    "again and again": -2.2,
    "keep getting": -1.5,
    "fed up": -2.8,
    "sick of": -2.6,
    "waste of time": -2.8,
    "waste of money": -2.8,
    "not good enough": -2.4,
    "unacceptable": -3.0,
    "disgrace": -3.0,
    "scam": -3.2,
    "rip off": -3.0,
    "ripped off": -3.0,
    "never again": -2.6,
    "never order": -2.4,
    "won't be ordering": -2.4,
    "late delivery": -2.0,
    "delivery is late": -2.0,
    "is late": -1.6,
    "was late": -1.6,
    "declined": -1.6,
    "payment failed": -2.0,
    "locked out": -2.2,
    # things that went right
    "arrived safely": 2.0,
    "arrived today": 1.0,
    "arrived quickly": 2.2,
    "quick delivery": 2.2,
    "fast delivery": 2.2,
    "fast shipping": 2.2,
    "all sorted": 2.0,
    "sorted it": 1.8,
    "that sorted": 1.8,
    "problem solved": 2.2,
    "issue resolved": 2.2,
    "resolved": 1.4,
    "works perfectly": 2.6,
    "exactly what i wanted": 2.6,
    "well packaged": 2.0,
    "thanks for sorting": 2.4,
    "thank you for sorting": 2.4,
    "thanks for your help": 2.2,
    "really helpful": 2.4,
    "very helpful": 2.4,
    "above and beyond": 2.8,
    "will order again": 2.4,
}

# Markers of repetition or waiting that make a neutral request an unhappy one.
_ESCALATION = re.compile(
    r"\b(still|again|yet|already (asked|contacted|emailed|called)|third|fourth|weeks?|"
    r"days? ago|chased|chasing|follow(ing)? up)\b"
)
_SERVICE_NOUN = re.compile(
    r"\b(refund|order(ed)?|paid|parcel|package|delivery|reply|response|money|item|replacement|"
    r"tracking|payment|charge|account|ticket|email)s?\b"
)
_PHRASE_PATTERNS = [
    (re.compile(r"\b" + re.escape(p) + r"\b"), v) for p, v in sorted(SUPPORT_PHRASES.items())
]


def support_features(text: str) -> tuple[float, float, float, float]:
    """(sum of negative phrase valences, sum of positive ones, escalation, shouting).

    Escalation is 1 when a repetition or waiting marker meets a service noun ("still no
    refund", "ordered three weeks ago"). Shouting is the share of letters in capitals.
    """
    lowered = text.lower()
    negative = positive = 0.0
    for pattern, valence in _PHRASE_PATTERNS:
        if pattern.search(lowered):
            if valence < 0:
                negative += valence
            else:
                positive += valence
    escalation = float(bool(_ESCALATION.search(lowered) and _SERVICE_NOUN.search(lowered)))
    letters = [c for c in text if c.isalpha()]
    shouting = sum(c.isupper() for c in letters) / len(letters) if len(letters) >= 8 else 0.0
    return negative, positive, escalation, shouting
