"""Messages not understood, as the insights page reads and exports them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from personalization.insights.nlu_candidates import candidates_yaml
from personalization.insights.queries import MIN_CONVERSATIONS, InsightsRepository
from personalization.store import Database

NOW = datetime.now(timezone.utc)


def fallback(db: Database, sender: str, text: str, guess: str = "order_status") -> None:
    body = {
        "event": "user",
        "timestamp": NOW.timestamp() - 60,
        "text": text,
        "parse_data": {
            "intent": {"name": "nlu_fallback", "confidence": 0.7},
            "intent_ranking": [
                {"name": "nlu_fallback", "confidence": 0.7},
                {"name": guess, "confidence": 0.41},
            ],
        },
    }
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO events (sender_id, data) VALUES (%s, %s)", (sender, json.dumps(body))
        )


def test_only_messages_several_conversations_sent_are_shown_with_digits_masked(
    db: Database,
) -> None:
    for n in range(MIN_CONVERSATIONS):
        fallback(db, f"c{n}", f"Where is parcel {1000 + n}?")
        fallback(db, f"c{n}", "do you do gift wrapping", guess="ask_help")
    fallback(db, "lonely", "my name is Erin Walsh and my order is 536365")
    rows = InsightsRepository(db).not_understood(NOW - timedelta(days=1))
    by_text = {r["text"]: r for r in rows}
    assert set(by_text) == {"where is parcel #?", "do you do gift wrapping"}
    assert by_text["where is parcel #?"]["conversations"] == MIN_CONVERSATIONS
    assert by_text["where is parcel #?"]["guess"] == "order_status"


def test_the_export_is_rasa_training_data_under_the_best_guess() -> None:
    rows = [
        {
            "text": "where is parcel #?",
            "times": 4,
            "guess": "order_status",
            "guess_confidence": 0.41,
        },
        {"text": "- tricky: a leading dash", "times": 3, "guess": None, "guess_confidence": None},
    ]
    text = candidates_yaml(rows, NOW - timedelta(days=7), NOW)
    data = RasaYAMLReader().reads(text)
    examples = {m.get("text"): m.get("intent") for m in data.training_examples}
    assert examples == {
        "where is parcel #?": "order_status",
        "tricky: a leading dash": "nlu_fallback_unlabelled",
    }
    assert '# "where is parcel #?": guess 0.41, seen 4x' in text
