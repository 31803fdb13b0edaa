"""The complaint detector on the real MiniLM weights, fitted to a small labelled set the test
makes; the real training and loading code, the real data's figures are in docs/cli.md."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from personalization.embeddings import SentenceEncoder, shared_encoder
from personalization.sentiment.complaint import load_detector, normalise
from personalization.sentiment.complaint_training import (
    RECALL_TARGET,
    ComplaintSet,
    choose_threshold,
    detection_scores,
    leave_domain_out,
    load_chat_examples,
    load_complaints,
    train,
)
from personalization.sentiment.training import DatasetMissing

COMPLAINTS = [
    "@ShopHelp my order never arrived and nobody answers",
    "still no refund after three weeks",
    "you charged me twice for the same parcel",
    "the lamp arrived broken again",
    "third time asking where my package is",
    "waited all day for a delivery that never came",
    "your app keeps logging me out, useless",
    "wrong size sent and the return label does not work",
]
OTHERS = [
    "@ShopHelp can I change my delivery address?",
    "what time do you open on sunday",
    "do you ship to France",
    "thanks for the quick reply!",
    "is the blue mug back in stock",
    "loving my new candles",
    "happy birthday to my sister today",
    "watching the match tonight with friends",
]


def small_set() -> ComplaintSet:
    texts = COMPLAINTS + OTHERS
    labels = np.array([1] * len(COMPLAINTS) + [0] * len(OTHERS))
    domains = np.array(
        ["retail", "transport"] * 4 + ["retail", "transport"] * 2 + ["random_tweet"] * 4
    )
    return ComplaintSet(texts, labels, domains)


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return shared_encoder()


def test_handles_and_links_do_not_reach_the_model() -> None:
    assert normalise("@FC_Help see https://x.co/abc  now") == "see http now"


def test_the_threshold_is_the_highest_that_keeps_the_recall_target() -> None:
    labels = np.array([1] * 10 + [0] * 5)
    probabilities = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.45, 0.41, 0.12] + [0.3] * 5)
    threshold = choose_threshold(labels, probabilities)
    assert threshold == 0.41
    assert detection_scores(labels, probabilities, threshold)["recall"] >= RECALL_TARGET
    assert detection_scores(labels, probabilities, threshold + 0.01)["recall"] < RECALL_TARGET


def test_a_trained_detector_flags_unseen_flat_complaints_and_reloads(
    encoder: SentenceEncoder, tmp_path: Path
) -> None:
    chat = tmp_path / "data"
    chat.mkdir()
    (chat / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n'
        "  - intent: ask_help\n    examples: |\n"
        "      - what are your delivery charges\n      - how do I pay by [card](method)\n"
        "  - intent: complain\n    examples: |\n      - this is the worst service\n"
        "  - intent: order_status\n    examples: |\n      - where is my parcel\n"
    )
    assert load_chat_examples(chat) == (
        ["what are your delivery charges", "how do I pay by card", "this is the worst service"],
        pytest.approx(np.array([0, 0, 1])),
    )
    detector = train(small_set(), encoder, folds=2, chat_data=chat)
    assert 0.0 < detector.threshold < 1.0
    assert detector.meta["trained_on"] == {"tweets": 16, "complaints": 8, "bot_examples": 3}
    unseen = ["my parcel still has not arrived", "do you sell gift cards"]
    complaint, question = detector.probabilities(unseen)
    assert complaint > question
    path = tmp_path / "complaint.joblib"
    detector.save(path)
    loaded = load_detector(path)
    assert loaded is not None and loaded.threshold == detector.threshold
    assert np.allclose(loaded.probabilities(unseen), [complaint, question])
    vectors = encoder.encode(unseen)
    assert np.allclose(loaded.probabilities(unseen, vectors), [complaint, question])


def test_leaving_an_industry_out_scores_only_industries(encoder: SentenceEncoder) -> None:
    data = small_set()
    probabilities = leave_domain_out(data, encoder.encode(data.texts))
    assert np.isnan(probabilities[data.domains == "random_tweet"]).all()
    assert not np.isnan(probabilities[data.domains != "random_tweet"]).any()


def test_a_missing_or_broken_model_file_means_no_detector(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert load_detector(tmp_path / "absent.joblib") is None
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"not a model")
    assert load_detector(broken) is None
    assert "sentiment alone" in caplog.text


def test_the_data_set_must_be_there(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissing, match=r"complaints\.csv is missing"):
        load_complaints(tmp_path)
    (tmp_path / "complaints").mkdir()
    (tmp_path / "complaints" / "complaints.csv").write_text("id,text,complaint,domain\n")
    with pytest.raises(DatasetMissing, match="both kinds"):
        load_complaints(tmp_path)
