"""Button payloads: an intent and its entities, encoded as JSON, never pieced together.

A payload is parsed back by Rasa as ``/intent{json}``. Values come from the database (stock
codes, order numbers, names) and from what customers typed, so a quote or a brace in one of
them must stay inside its JSON string, not end it and add entities of its own.
"""

from __future__ import annotations

import json
import re

_INTENT = re.compile(r"^[a-z][a-z0-9_]*$")


def intent_payload(intent: str, **entities: str | int | float) -> str:
    if not _INTENT.match(intent):
        raise ValueError(f"not an intent name: {intent!r}")
    if not entities:
        return f"/{intent}"
    return f"/{intent}{json.dumps(entities, ensure_ascii=False, separators=(',', ':'))}"
