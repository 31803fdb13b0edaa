"""Real Rasa graph objects for building components in tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message


@pytest.fixture
def graph_parts(tmp_path: Path) -> tuple[LocalModelStorage, Resource, ExecutionContext]:
    return (
        LocalModelStorage(tmp_path),
        Resource("component"),
        ExecutionContext(GraphSchema({}), "test-model"),
    )


@pytest.fixture
def tokenize():
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())

    def run(*texts: str) -> list[Message]:
        messages = [Message(data={"text": t}) for t in texts]
        return tokenizer.process(messages)

    return run
