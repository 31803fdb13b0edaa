"""The held-out NLU set stays a fair test: none of its messages is trained on, every intent
is covered, and each intent has enough messages for its F1 to mean something."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from tests.conftest import PROJECT_ROOT

ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def examples(path: Path) -> list[tuple[str, str]]:
    rows = []
    for block in yaml.safe_load(path.read_text())["nlu"]:
        if "intent" in block:
            for line in block["examples"].splitlines():
                text = ANNOTATION.sub(r"\1", line.strip()[2:]).strip().lower()
                rows.append((block["intent"], text))
    return rows


def training_examples() -> list[tuple[str, str]]:
    return [
        row for path in sorted((PROJECT_ROOT / "data").glob("nlu*.yml")) for row in examples(path)
    ]


def test_no_held_out_message_is_in_the_training_data() -> None:
    trained = {text for _, text in training_examples()}
    held_out = examples(PROJECT_ROOT / "tests" / "nlu" / "heldout.yml")
    assert not {text for _, text in held_out} & trained


def test_every_intent_is_held_out_at_least_eight_times() -> None:
    counts = Counter(
        intent for intent, _ in examples(PROJECT_ROOT / "tests" / "nlu" / "heldout.yml")
    )
    intents = {intent for intent, _ in training_examples()}
    assert set(counts) == intents
    assert min(counts.values()) >= 8, counts.most_common()[-3:]
