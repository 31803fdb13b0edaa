"""The calibrated linear SVM intent classifier: train, persist, load, rank."""

from __future__ import annotations

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.linear_intent_classifier import LinearIntentClassifier
from components.sentence_embeddings import MiniLmFeaturizer

EXAMPLES = {
    "track_order": [
        "where is my order",
        "has my parcel shipped yet",
        "when will my package arrive",
        "track my delivery please",
        "my order hasn't come",
        "is my parcel on its way",
    ],
    "request_refund": [
        "I want my money back",
        "can I get a refund",
        "please refund the broken mug",
        "how do I return this for a refund",
        "refund me please",
        "I'd like to be reimbursed",
    ],
    "greet": ["hi", "hello there", "good morning", "hey", "hiya", "good evening"],
}


def test_train_persist_load_and_rank(graph_parts, tokenize) -> None:
    storage, _, context = graph_parts
    messages = []
    for intent, texts in EXAMPLES.items():
        for message in tokenize(*texts):
            message.set("intent", intent)
            messages.append(message)
    data = TrainingData(messages)
    counts = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(), storage, Resource("counts"), context
    )
    counts.train(data)
    counts.process_training_data(data)
    dense = MiniLmFeaturizer.create(
        {**MiniLmFeaturizer.get_default_config(), "scale": 2.0}, storage, Resource("d"), context
    )
    dense.process_training_data(data)

    resource = Resource("classifier")
    config = LinearIntentClassifier.get_default_config()
    classifier = LinearIntentClassifier.create(config, storage, resource, context)
    classifier.train(data)
    loaded = LinearIntentClassifier.load(
        config, storage, resource, ExecutionContext(GraphSchema({}), "m")
    )

    queries = tokenize("where's my parcel got to?", "give me my money back", "yo")
    counts.process(queries)
    dense.process(queries)
    parsed = loaded.process(queries)
    assert [m.get("intent")["name"] for m in parsed] == ["track_order", "request_refund", "greet"]
    ranking = parsed[0].get("intent_ranking")
    assert len(ranking) == 3 and abs(sum(r["confidence"] for r in ranking) - 1) < 1e-6
    assert ranking[0]["confidence"] > 0.5


def test_an_untrained_classifier_leaves_messages_alone(graph_parts) -> None:
    storage, _, context = graph_parts
    empty = LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), storage, Resource("none"), context
    )
    (message,) = empty.process([Message(data={"text": "hello"})])
    assert message.get("intent") is None
