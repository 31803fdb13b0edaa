"""Versioned recommender artefacts on disk, with an atomic switch and rollback.

Layout under the registry root (``RECOMMENDER_DIR``, default ``.data/recommender``)::

    versions/<version>/model.pkl       the fitted HybridModel
    versions/<version>/metadata.json   data fingerprint, parameters, metrics, time
    current -> versions/<version>      symlink, replaced atomically with os.replace
    activations.jsonl                  every switch, so rollback knows what came before
    generation                         a token renewed on every switch or rewrite
    .lock                              held while versions are rewritten or saved

A version is written into a temporary directory and renamed into place, so a reader never
sees half an artefact; the ``current`` link is swapped in one rename, so a reader sees either
the old or the new version. The pickles are our own output, never accepted from elsewhere.

A rewrite (an erased customer removed from a version) keeps the version's name, so running
processes cannot tell it from the version string: they compare ``generation()`` instead.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from personalization.recommender.model import HybridModel
from personalization.settings import recommender_dir

MODEL_FILE, METADATA_FILE = "model.pkl", "metadata.json"


class RegistryError(RuntimeError):
    """The registry cannot do what was asked, e.g. roll back with no earlier version."""


def default_root() -> Path:
    return recommender_dir()


@dataclass
class ModelRegistry:
    root: Path

    @classmethod
    def from_env(cls) -> ModelRegistry:
        return cls(default_root())

    @property
    def _versions(self) -> Path:
        return self.root / "versions"

    @property
    def _current(self) -> Path:
        return self.root / "current"

    @property
    def _activations(self) -> Path:
        return self.root / "activations.jsonl"

    @property
    def _generation(self) -> Path:
        return self.root / "generation"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes: rewrites of erased customers and saves of new versions
        must not interleave, or a save could bring back a customer a rewrite just removed."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def generation(self) -> str | None:
        """What a loaded model must match: the active version and the last change's token."""
        version = self.current_version()
        if version is None:
            return None
        try:
            token = self._generation.read_text().strip()
        except OSError:
            token = ""
        return f"{version}/{token}"

    def _bump_generation(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".generation-", dir=self.root)
        with os.fdopen(handle, "w") as out:
            out.write(uuid.uuid4().hex)
        os.replace(temporary, self._generation)

    def save(self, model: HybridModel, metadata: dict[str, Any]) -> str:
        """Store a new version (not yet active) and return its id."""
        self._versions.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        version = f"{stamp}-{metadata.get('data_fingerprint', 'nodata')[:8]}"
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self._versions))
        try:
            with (staging / MODEL_FILE).open("wb") as handle:
                pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
            full = {"version": version, **metadata}
            (staging / METADATA_FILE).write_text(json.dumps(full, indent=2, default=str))
            staging.rename(self._versions / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return version

    def activate(self, version: str, reason: str = "train") -> None:
        if not (self._versions / version / MODEL_FILE).is_file():
            raise RegistryError(f"no recommender version {version}")
        link = self.root / f".current-{os.getpid()}"
        link.unlink(missing_ok=True)
        link.symlink_to(Path("versions") / version)
        os.replace(link, self._current)
        self._bump_generation()
        entry = {"version": version, "reason": reason, "at": datetime.now(timezone.utc)}
        with self._activations.open("a") as log:
            log.write(json.dumps(entry, default=str) + "\n")

    def current_version(self) -> str | None:
        try:
            return Path(os.readlink(self._current)).name
        except (FileNotFoundError, OSError):
            return None

    def load(self, version: str) -> HybridModel:
        path = self._versions / version / MODEL_FILE
        if not path.is_file():
            raise RegistryError(f"no recommender version {version}")
        try:
            with path.open("rb") as handle:
                model = pickle.load(handle)  # our own artefact, see the module docstring
        except Exception as exc:  # a truncated or foreign file can fail in many ways
            raise RegistryError(f"recommender version {version} is unreadable: {exc}") from exc
        if not isinstance(model, HybridModel):
            raise RegistryError(f"recommender version {version} does not hold a model")
        return model

    def metadata(self, version: str) -> dict[str, Any]:
        path = self._versions / version / METADATA_FILE
        if not path.is_file():
            raise RegistryError(f"no recommender version {version}")
        return json.loads(path.read_text())

    def versions(self) -> list[str]:
        if not self._versions.is_dir():
            return []
        return sorted(p.name for p in self._versions.iterdir() if (p / MODEL_FILE).is_file())

    def _stack(self) -> list[str]:
        """Active versions, oldest first: training pushes one, a rollback pops one."""
        stack: list[str] = []
        if self._activations.is_file():
            for line in self._activations.read_text().splitlines():
                entry = json.loads(line)
                if entry["reason"].startswith("rollback"):
                    if stack:
                        stack.pop()
                else:
                    stack.append(entry["version"])
        return stack

    def rollback(self) -> str:
        """Re-activate the version that was active before the current one."""
        current = self.current_version()
        if current is None:
            raise RegistryError("no recommender version is active; run `train` first")
        earlier = [v for v in self._stack()[:-1] if (self._versions / v / MODEL_FILE).is_file()]
        if not earlier:
            raise RegistryError(f"nothing to roll back to: {current} is the only version")
        self.activate(earlier[-1], reason=f"rollback from {current}")
        return earlier[-1]

    def rewrite(self, version: str, model: HybridModel) -> None:
        """Replace a version's model in place (used to forget an erased customer)."""
        target = self._versions / version / MODEL_FILE
        handle, temporary = tempfile.mkstemp(prefix=".model-", dir=target.parent)
        with os.fdopen(handle, "wb") as out:
            pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, target)
        self._bump_generation()
