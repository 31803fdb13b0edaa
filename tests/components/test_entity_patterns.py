"""The entity patterns of data/nlu_entities.yml, as Rasa's RegexEntityExtractor runs them.

Every pattern (and the lookup table Rasa compiles into one) must take linear time on any
input: a 20,000-character adversarial text is matched well under 100 ms. They must still find
every entity the training and held-out examples annotate.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from rasa.nlu.utils.pattern_utils import extract_patterns
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

pytestmark = pytest.mark.fast

PROJECT = Path(__file__).resolve().parents[2]
LENGTH = 20_000
BUDGET_S = 0.1
# config.yml runs the RegexEntityExtractor with case_sensitive: false.
FLAGS = re.IGNORECASE


def _fill(unit: str) -> str:
    return (unit * (LENGTH // len(unit) + 1))[:LENGTH]


ADVERSARIAL = {
    "letters": "a" * LENGTH,
    "digits": "7" * LENGTH,
    "letters and digits": _fill("a1"),
    "address characters": _fill("a.b_c%d+e-"),
    "at signs": _fill("a@"),
    "one at sign, long domain": "a@" + "b" * (LENGTH - 2),
    "one at sign, dotted domain": "a@" + _fill("b.")[: LENGTH - 2],
    "spaces after a digit": "5" + " " * (LENGTH - 1),
    "digits and spaces": _fill("1 "),
    "digits and dots": _fill("1."),
    "pound signs": _fill("£1"),
    "dates": _fill("12/"),
    "order prefixes": _fill("DEMO-"),
    "words": _fill("candle "),
    "unicode": _fill("é1@ß."),
}


@pytest.fixture(scope="module")
def patterns() -> list[dict[str, str]]:
    data = load_data(str(PROJECT / "data" / "nlu_entities.yml"))
    found = extract_patterns(data, use_lookup_tables=True, use_regexes=True)
    assert {p["name"] for p in found} >= {"email", "order_number", "date", "amount", "product"}
    return found


def _seconds(pattern: str, text: str) -> float:
    compiled = re.compile(pattern, FLAGS)
    best = float("inf")
    for _ in range(3):  # the best of three: a busy machine may pause any single run
        started = time.perf_counter()
        for _match in compiled.finditer(text):
            pass
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("kind", sorted(ADVERSARIAL))
def test_every_pattern_runs_in_linear_time(patterns: list[dict[str, str]], kind: str) -> None:
    text = ADVERSARIAL[kind]
    slow = {
        f"{p['name']}: {p['pattern'][:60]}": round(seconds * 1000, 1)
        for p in patterns
        if (seconds := _seconds(p["pattern"], text)) >= BUDGET_S
    }
    assert not slow, f"patterns over {BUDGET_S * 1000:.0f} ms on {kind!r}: {slow}"


def test_the_old_email_pattern_was_quadratic() -> None:
    """What the look-behind fixed: without it, a run of letters is rescanned from every
    position, so 20,000 letters took seconds."""
    old = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
    assert _seconds(old, "a" * 4_000) > 4 * _seconds(old, "a" * 1_000)


def _annotated(*files: str) -> TrainingData:
    return TrainingData().merge(*(load_data(str(PROJECT / f)) for f in files))


def test_every_annotated_pattern_entity_is_still_found(patterns: list[dict[str, str]]) -> None:
    # The lookup table names catalogue words only; products are also annotated by id.
    names = {p["name"] for p in patterns} - {"product"}
    data = _annotated("data/nlu.yml", "data/nlu_journeys.yml", "tests/nlu/heldout.yml")
    checked = 0
    for example in data.nlu_examples:
        text = example.get("text")
        for entity in example.get("entities") or []:
            if entity["entity"] not in names:
                continue
            found = {
                (m.start(), m.end())
                for p in patterns
                if p["name"] == entity["entity"]
                for m in re.finditer(p["pattern"], text, FLAGS)
            }
            assert (entity["start"], entity["end"]) in found, (text, entity)
            checked += 1
    assert checked >= 10, "the examples annotate pattern entities"


@pytest.mark.parametrize(
    ("text", "emails"),
    [
        ("my email is alice.martin@example.com", ["alice.martin@example.com"]),
        ("Jane.Doe+shop@Example.co.uk, thanks", ["Jane.Doe+shop@Example.co.uk"]),
        ("a@b.cc and c@d.ee", ["a@b.cc", "c@d.ee"]),
        ("no address here @ all", []),
        ("x" * 65 + "@example.com", []),
    ],
)
def test_emails_are_found_as_before(
    patterns: list[dict[str, str]], text: str, emails: list[str]
) -> None:
    [email] = [p["pattern"] for p in patterns if p["name"] == "email"]
    assert [m.group() for m in re.finditer(email, text, FLAGS)] == emails
