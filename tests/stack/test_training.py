"""Retraining happens only when the model's inputs change; the sentiment model once."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from personalization.sentiment import TrainedScorer, load_scorer
from personalization.sentiment.training import GROUND_TRUTH_SETS
from stack.training import MODEL_NAME, SentimentModelPlan, TrainingPlan
from tests.conftest import PROJECT_ROOT


def copy_project(tmp_path: Path) -> Path:
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "data", tmp_path / "data")
    (tmp_path / "models").mkdir()
    return tmp_path


def mark_trained(plan: TrainingPlan) -> None:
    plan.model_path.write_bytes(b"model")
    (plan.project / "models" / f"{MODEL_NAME}.inputs.json").write_text(
        json.dumps({"fingerprint": plan.fingerprint()})
    )


def test_without_a_model_training_is_needed(tmp_path: Path) -> None:
    assert TrainingPlan(copy_project(tmp_path)).is_stale()


def test_unchanged_inputs_need_no_training(tmp_path: Path) -> None:
    plan = TrainingPlan(copy_project(tmp_path))
    mark_trained(plan)
    assert not plan.is_stale()
    assert plan.train() is False, "train() must not run rasa when nothing changed"


def test_a_changed_training_example_makes_the_model_stale(tmp_path: Path) -> None:
    plan = TrainingPlan(copy_project(tmp_path))
    mark_trained(plan)
    nlu = tmp_path / "data" / "nlu.yml"
    nlu.write_text(nlu.read_text().replace("- hiya\n", "- hiya!\n"))
    assert plan.is_stale()


def test_a_new_data_file_makes_the_model_stale(tmp_path: Path) -> None:
    plan = TrainingPlan(copy_project(tmp_path))
    mark_trained(plan)
    (tmp_path / "data" / "extra.yml").write_text('version: "3.1"\n')
    assert plan.is_stale()


@pytest.fixture(autouse=True)
def default_sentiment_model_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTIMENT_MODEL_PATH", raising=False)


def write_rated_sets(root: Path) -> Path:
    """Four tiny rated sets in the VADER ground-truth format (id, rating, text)."""
    folder = root / "vader_ground_truth"
    folder.mkdir(parents=True)
    rated = [
        (3.0, "I love it, wonderful"),
        (2.5, "brilliant service, thank you"),
        (-3.0, "awful, it broke at once"),
        (-2.5, "terrible, never again"),
        (0.0, "the parcel is blue"),
        (0.1, "I ordered a lamp"),
    ]
    for name in GROUND_TRUTH_SETS:
        lines = [f"{i}\t{rating}\t{text} ({name})" for i, (rating, text) in enumerate(rated)]
        (folder / f"{name}_GroundTruth.txt").write_text("\n".join(lines) + "\n")
    return root


def test_an_existing_sentiment_model_is_kept(tmp_path: Path) -> None:
    plan = SentimentModelPlan(tmp_path)
    plan.model_path.parent.mkdir(parents=True)
    plan.model_path.write_bytes(b"kept")
    assert plan.train_if_missing() is False
    assert plan.model_path.read_bytes() == b"kept"


def test_without_rated_sets_the_lexicon_stays_and_the_log_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SHARED_DATASETS", str(tmp_path / "nowhere"))
    plan = SentimentModelPlan(tmp_path)
    with caplog.at_level(logging.WARNING, logger="stack.training"):
        assert plan.train_if_missing() is False
    assert not plan.model_path.exists()
    assert "lexicon" in caplog.text and "tweets_GroundTruth.txt" in caplog.text


def test_a_missing_sentiment_model_is_trained_and_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHARED_DATASETS", str(write_rated_sets(tmp_path / "shared")))
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    plan = SentimentModelPlan(tmp_path / "project")
    (tmp_path / "project").mkdir()
    assert plan.train_if_missing() is True
    scorer = load_scorer(plan.model_path)
    assert isinstance(scorer, TrainedScorer)
    assert scorer.meta["trained_on"] == {name: 6 for name in GROUND_TRUTH_SETS}
    assert plan.train_if_missing() is False, "trained once"


def test_a_missing_complaint_model_is_fitted_once_and_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from personalization.sentiment.complaint import load_detector
    from stack.training import ComplaintModelPlan

    folder = tmp_path / "shared" / "complaints"
    folder.mkdir(parents=True)
    rows = ["id,text,complaint,domain"]
    for i in range(12):
        rows.append(f"{i},my parcel {i} never arrived and nobody answers,1,retail")
        rows.append(f"{100 + i},do you ship order {i} to France?,0,retail")
    (folder / "complaints.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("SHARED_DATASETS", str(tmp_path / "shared"))
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    (tmp_path / "project").mkdir()
    plan = ComplaintModelPlan(tmp_path / "project")
    assert plan.train_if_missing() is True
    detector = load_detector(plan.model_path)
    assert detector is not None and detector.meta["trained_on"]["tweets"] == 24
    complaint, question = detector.probabilities(["it never arrived", "do you ship to Spain?"])
    assert complaint > question
    assert plan.train_if_missing() is False, "fitted once"


def test_without_the_complaints_the_mood_rests_on_sentiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from stack.training import ComplaintModelPlan

    monkeypatch.setenv("SHARED_DATASETS", str(tmp_path / "nowhere"))
    with caplog.at_level(logging.WARNING, logger="stack.training"):
        assert ComplaintModelPlan(tmp_path).train_if_missing() is False
    assert "complaints.csv" in caplog.text and "sentiment alone" in caplog.text
