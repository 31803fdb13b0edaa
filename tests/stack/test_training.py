"""Retraining happens only when the model's inputs change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from stack.training import MODEL_NAME, TrainingPlan
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
