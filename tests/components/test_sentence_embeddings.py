"""The MiniLM featurizer inside Rasa's pipeline."""

from __future__ import annotations

import numpy as np

from components.sentence_embeddings import MiniLmFeaturizer


def test_each_message_gets_a_sentence_and_a_sequence_vector(graph_parts, tokenize) -> None:
    featurizer = MiniLmFeaturizer.create(
        {**MiniLmFeaturizer.get_default_config(), "scale": 10.0}, *graph_parts
    )
    refund, late, cat = featurizer.process(
        tokenize("where is my refund", "I am still waiting for the money back", "the cat sat")
    )
    sequence, sentence = refund.get_dense_features("text")
    assert sentence.features.shape == (1, 384)
    assert sequence.features.shape == (4, 384), "one row per token"
    assert np.isclose(np.linalg.norm(sentence.features), 10.0, atol=1e-3), "scaled unit vector"

    def vector(message):
        return message.get_dense_features("text")[1].features[0]

    def cosine(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cosine(vector(refund), vector(late)) > cosine(vector(refund), vector(cat))


def test_training_data_is_featurized_too(graph_parts, tokenize) -> None:
    from rasa.shared.nlu.training_data.training_data import TrainingData

    featurizer = MiniLmFeaturizer.create(MiniLmFeaturizer.get_default_config(), *graph_parts)
    data = TrainingData(tokenize("hello there", "cancel my order"))
    featurizer.process_training_data(data)
    assert all(m.get_dense_features("text")[1] is not None for m in data.training_examples)
