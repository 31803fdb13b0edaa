"""Train the Rasa model only when its inputs changed, and the mood models when missing.

Rasa itself skips unchanged training, but only after importing TensorFlow and fingerprinting
the graph (about 20 s here). Hashing the input files ourselves makes an unchanged restart
instant, and Rasa's own cache still makes a changed retrain incremental.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from personalization.sentiment.complaint import DEFAULT_MODEL_PATH as DEFAULT_COMPLAINT_MODEL
from personalization.sentiment.complaint_training import load_complaints
from personalization.sentiment.scorer import DEFAULT_MODEL_PATH as DEFAULT_SENTIMENT_MODEL
from personalization.sentiment.training import DatasetMissing, load_ground_truth

log = logging.getLogger(__name__)

MODEL_NAME = "shopbot"
# The custom NLU components are code the model is built with, so they count as inputs too.
_INPUTS = ("config.yml", "domain.yml", "data", "components")


@dataclass(frozen=True)
class TrainingPlan:
    project: Path

    @property
    def model_path(self) -> Path:
        return self.project / "models" / f"{MODEL_NAME}.tar.gz"

    @property
    def _stamp(self) -> Path:
        return self.project / "models" / f"{MODEL_NAME}.inputs.json"

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        digest.update(f"rasa=={metadata.version('rasa')}".encode())
        for name in _INPUTS:
            path = self.project / name
            if not path.exists():
                continue
            if path.is_dir():
                files = sorted(
                    p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                )
            else:
                files = [path]
            for file in files:
                digest.update(str(file.relative_to(self.project)).encode())
                digest.update(file.read_bytes())
        return digest.hexdigest()

    def is_stale(self) -> bool:
        if not self.model_path.exists():
            return True
        try:
            recorded = json.loads(self._stamp.read_text())["fingerprint"]
        except (OSError, ValueError, KeyError):
            return True
        return recorded != self.fingerprint()

    def train(self, force: bool = False) -> bool:
        """Train if stale (or forced); return True when a model was trained."""
        if not force and not self.is_stale():
            log.info("model %s is up to date", self.model_path.name)
            return False
        fingerprint = self.fingerprint()
        command = [
            sys.executable,
            "-m",
            "rasa",
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            "data",
            "--out",
            "models",
            "--fixed-model-name",
            MODEL_NAME,
        ]
        subprocess.run(command, cwd=self.project, check=True)
        self._stamp.write_text(
            json.dumps({"fingerprint": fingerprint, "model": self.model_path.name})
        )
        return True


@dataclass(frozen=True)
class _MissingModelPlan(ABC):
    """A model fitted once, when its file is missing, from data in SHARED_DATASETS.

    Without the data the bot does without the model, and the log says why.
    """

    project: Path
    setting = ""  # the variable that places the model file
    default_path = Path()
    command = ""  # the personalization command that fits it
    without = ""  # what the bot does without it

    @property
    def model_path(self) -> Path:
        configured = os.environ.get(self.setting)
        return Path(configured) if configured else self.project / self.default_path

    @abstractmethod
    def _check_data(self) -> None:
        """Raise DatasetMissing when the data to fit the model is not there."""

    def train_if_missing(self) -> bool:
        """Return True when a model was trained now."""
        if self.model_path.exists():
            return False
        try:
            self._check_data()
        except DatasetMissing as exc:
            log.warning("no %s and no data to fit it (%s); %s", self.command, exc, self.without)
            return False
        log.info("fitting the model of `personalization %s` (once)", self.command)
        command = [
            sys.executable,
            "-m",
            "personalization",
            self.command,
            "--model",
            str(self.model_path),
            "--cache-dir",
            str(self.project / "models" / "sentiment" / "embedding-cache"),
        ]
        try:
            subprocess.run(command, cwd=self.project, check=True, stdout=subprocess.DEVNULL)
        except subprocess.CalledProcessError as exc:  # the bot runs without it; say so
            log.warning(
                "`personalization %s` failed (exit %s); %s",
                self.command,
                exc.returncode,
                self.without,
            )
            return False
        return True


@dataclass(frozen=True)
class SentimentModelPlan(_MissingModelPlan):
    """The trained sentiment scorer. Without it the bot reads mood with the lexicon scorer,
    which trails the trained one on every rated set (docs/cli.md, "Sentiment")."""

    setting = "SENTIMENT_MODEL_PATH"
    default_path = DEFAULT_SENTIMENT_MODEL
    command = "sentiment-train"
    without = "mood uses the lexicon"

    def _check_data(self) -> None:
        load_ground_truth()


@dataclass(frozen=True)
class ComplaintModelPlan(_MissingModelPlan):
    """The complaint detector. Without it a flat complaint ("still no refund") reads as
    neutral, and the mood rests on sentiment alone."""

    setting = "COMPLAINT_MODEL_PATH"
    default_path = DEFAULT_COMPLAINT_MODEL
    command = "complaint-train"
    without = "the mood rests on sentiment alone"

    def _check_data(self) -> None:
        load_complaints()


def fit_missing_models(project: Path) -> list[str]:
    """Fit the sentiment scorer and the complaint detector if their files are missing."""
    plans = (SentimentModelPlan(project), ComplaintModelPlan(project))
    return [plan.command for plan in plans if plan.train_if_missing()]
