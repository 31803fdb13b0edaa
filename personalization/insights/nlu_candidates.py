"""Messages the bot did not understand, as Rasa NLU training data for a designer to review.

Each message goes under the intent the model ranked best after the fallback, with a comment
giving that guess's confidence and how often the message came: the designer moves or deletes
lines, then adds the file's examples to `data/`. Nothing here is ever trained on as it is.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

UNSURE = "nlu_fallback_unlabelled"


def candidates_yaml(rows: list[dict[str, Any]], since: datetime, until: datetime) -> str:
    """``rows``: text, times, guess, guess_confidence (InsightsRepository.not_understood)."""
    by_intent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        text = " ".join(str(row["text"]).split())
        if text:
            by_intent[row.get("guess") or UNSURE].append({**row, "text": text})
    lines = [
        "# NLU training candidates: messages the bot did not understand",
        f"# between {since.date()} and {until.date()}, each under the intent the model",
        "# guessed best. Review every line (move it to the right intent, or delete it) before",
        "# adding it to data/nlu.yml. Digits are shown as #; only messages that at least three",
        "# conversations sent are here.",
        'version: "3.1"',
        "nlu:",
    ]
    for intent in sorted(by_intent):
        examples = by_intent[intent]
        for row in examples:  # outside the block: a comment inside it would be example text
            confidence = row.get("guess_confidence")
            note = f"guess {confidence:.2f}, " if confidence is not None else ""
            lines.append(f"# {json.dumps(_example(row['text']))}: {note}seen {row['times']}x")
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {_example(row['text'])}" for row in examples)
    return "\n".join(lines) + "\n"


def _example(text: str) -> str:
    """One line of a literal block, as Rasa reads it back: one line, no leading "-"."""
    return " ".join(text.split()).lstrip("- ").strip() or "(empty)"
