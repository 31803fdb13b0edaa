"""Rotation and retention of the stack's log files.

The servers write their logs through a file descriptor opened with O_APPEND, which they keep
for their whole life, so a file cannot be renamed under them. Rotation therefore copies the
file aside and truncates it in place (the next write lands at the new end); a line written
between the copy and the truncation can be lost, the price of needing no cooperation from
Rasa, PostgreSQL or Redis. Rotated copies are deleted after the retention period, because logs
can hold conversation ids and errors about customers.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from personalization.settings import LogSettings

log = logging.getLogger(__name__)

DAY_S = 24 * 3600


def open_private_append(path: Path) -> int:
    """A log file only its owner can read, opened for appending; returns the descriptor."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return fd


class PrivateFileHandler(logging.FileHandler):
    """A logging file handler whose file is 0600 from the moment it exists."""

    def _open(self):  # type: ignore[no-untyped-def]
        return os.fdopen(open_private_append(Path(self.baseFilename)), "a", encoding="utf-8")


class LogKeeper:
    """Rotates the live log files (daily, or when one outgrows ``max_bytes``) and deletes
    rotated copies older than the retention period."""

    def __init__(self, live_files: Iterable[Path], settings: LogSettings) -> None:
        self.live_files = [Path(p) for p in live_files]
        self.settings = settings
        self._day = date.today()

    def rotated_copies(self, live: Path) -> list[Path]:
        return sorted(live.parent.glob(live.name + ".*"))

    def maintain(self, now: float | None = None) -> list[Path]:
        """Rotate what is due and apply retention; return the files rotated now."""
        now = time.time() if now is None else now
        today = datetime.fromtimestamp(now).date()
        new_day = today != self._day
        self._day = today
        rotated = []
        for live in self.live_files:
            try:
                size = live.stat().st_size
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("cannot read log file %s: %s", live, exc.strerror)
                continue
            if size and (new_day or size >= self.settings.max_bytes):
                copy = self._rotate(live, now)
                if copy is not None:
                    rotated.append(copy)
        self._expire(now)
        return rotated

    def _rotate(self, live: Path, now: float) -> Path | None:
        stamp = datetime.fromtimestamp(now).strftime("%Y-%m-%dT%H%M%S")
        copy = live.with_name(f"{live.name}.{stamp}")
        try:
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return None  # rotated this second already
        except OSError as exc:
            log.warning("cannot rotate %s: %s", live, exc.strerror)
            return None
        try:
            with os.fdopen(fd, "wb") as out, live.open("rb") as src:
                shutil.copyfileobj(src, out)
            os.truncate(live, 0)
        except OSError as exc:
            log.warning("cannot rotate %s: %s", live, exc.strerror)
            return None
        return copy

    def _expire(self, now: float) -> None:
        cutoff = now - self.settings.retention_days * DAY_S
        for live in self.live_files:
            for copy in self.rotated_copies(live):
                try:
                    if copy.stat().st_mtime < cutoff:
                        copy.unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    log.warning("cannot delete old log %s: %s", copy, exc.strerror)


def stack_log_files(data_dir: Path, embedded: Iterable[str]) -> list[Path]:
    """The live log files of a stack in ``data_dir``: every ``logs/*.log`` (the servers and
    the runner) and the logs of the embedded servers it uses."""
    logs = data_dir / "logs"
    files = sorted(logs.glob("*.log")) if logs.is_dir() else []
    names = set(embedded)
    if "postgres" in names:
        files.append(data_dir / "postgres" / "log")
    if "redis" in names:
        files.append(data_dir / "redis" / "redis.log")
    return files
