"""A greeting or thanks in front of a request is set aside, so the request is what gets understood.

Customers write "hi, where's my order?" and "thanks, and can I return the mug?". Classified
whole, the pleasantry pulls such a message towards greet or thank, and the request is dropped.
Placed first in the pipeline, ``LeadingPleasantryRemover`` removes a leading pleasantry clause
before tokenizing, when what follows is a request of its own (at least three words), and records
what it removed in the parse data as ``pleasantry`` ("greet", "thank" or "acknowledge"). A
message that is only a pleasantry ("thanks!", "hi there") is left whole, and so is anything it
is unsure about: training data is never changed. Placed last, ``LeadingPleasantryRestorer``
puts the whole text back and moves the entities found in the request to where they are in it,
so the parse data (and `rasa test`) sees the message as the customer wrote it.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

PLEASANTRY = "pleasantry"
_SET_ASIDE = "pleasantry_set_aside"  # (the whole text, where the request starts in it)
MIN_REQUEST_WORDS = 3
MAX_CLAUSE_CHARS = 60

_GREETINGS = (
    r"hi+|hello+|hey+|hiya|howdy|good (?:morning|afternoon|evening)|morning"
    r"|hi there|hello there|hey there"
)
_THANKS = r"thanks?(?: you)?(?: (?:so|very) much)?|many thanks|thank u|thx|ty|cheers|ta"
_ACKNOWLEDGEMENTS = r"ok(?:ay)?|right|great|cool|perfect|lovely|brilliant|fab|nice|alright"
# A pleasantry clause: one or more of the above, ended by punctuation or by "and"/"also".
_CLAUSE = re.compile(
    rf"^\s*(?P<words>(?:(?:{_ACKNOWLEDGEMENTS}|{_GREETINGS}|{_THANKS})\b[\s,!.]*)+?)"
    r"(?:[,.!;:\u2014\u2013]+\s*|\s+[-\u2014\u2013]+\s*|\s+(?=and\b|also\b|but\b|so\b))"
    r"(?:(?:and|also|but|so)\b[\s,]*)?",
    re.IGNORECASE,
)
_THANKS_WORD = re.compile(rf"\b(?:{_THANKS})\b", re.IGNORECASE)
_GREETING_WORD = re.compile(rf"\b(?:{_GREETINGS})\b", re.IGNORECASE)


def split_pleasantry(text: str) -> tuple[str | None, str]:
    """The kind of pleasantry in front ("thank" or "greet") and the request after it; (None,
    text) when there is no pleasantry clause or nothing substantial follows it."""
    match = _CLAUSE.match(text[:MAX_CLAUSE_CHARS])  # a pleasantry is short: bounded work
    if not match:
        return None, text
    rest = text[match.end() :].strip()
    if len(re.findall(r"[\w']+", rest)) < MIN_REQUEST_WORDS:
        return None, text
    rest = text[len(text) - len(text[match.end() :].lstrip()) :]
    words = match.group("words")
    if _THANKS_WORD.search(words):
        return "thank", rest
    return ("greet" if _GREETING_WORD.search(words) else "acknowledge"), rest


class _AtInferenceOnly(GraphComponent):
    """Nothing to configure or train, and training data passes unchanged."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _AtInferenceOnly:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class LeadingPleasantryRemover(_AtInferenceOnly):
    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue  # empty, or a button's payload
            kind, rest = split_pleasantry(text)
            if kind is not None:
                message.set(_SET_ASIDE, (text, len(text) - len(rest)))
                message.set(TEXT, rest)
                message.set(PLEASANTRY, kind, add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class LeadingPleasantryRestorer(_AtInferenceOnly):
    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            set_aside = message.get(_SET_ASIDE)
            if not set_aside:
                continue
            text, offset = set_aside
            message.set(TEXT, text)
            for entity in message.get(ENTITIES) or []:
                for key in (ENTITY_ATTRIBUTE_START, ENTITY_ATTRIBUTE_END):
                    if isinstance(entity.get(key), int):
                        entity[key] += offset
        return messages
