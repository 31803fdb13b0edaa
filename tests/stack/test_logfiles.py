"""The stack's log files rotate, and rotated copies older than the retention are deleted."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from personalization.settings import LogSettings
from stack.logfiles import DAY_S, LogKeeper, PrivateFileHandler, open_private_append


def write(path: Path, text: str) -> None:
    fd = open_private_append(path)
    os.write(fd, text.encode())
    os.close(fd)


def test_a_log_over_its_size_is_rotated_and_kept_private(tmp_path: Path) -> None:
    live = tmp_path / "logs" / "rasa.log"
    # The server keeps its O_APPEND descriptor across the rotation.
    fd = open_private_append(live)
    os.write(fd, b"x" * 2000)
    keeper = LogKeeper([live], LogSettings(retention_days=14, max_bytes=1024))
    rotated = keeper.maintain()
    assert len(rotated) == 1 and rotated[0].read_bytes() == b"x" * 2000
    assert rotated[0].stat().st_mode & 0o077 == 0
    os.write(fd, b"after\n")
    os.close(fd)
    assert live.read_bytes() == b"after\n", "the server's next line starts the new file"
    assert keeper.maintain() == [], "small again: nothing to rotate"


def test_logs_rotate_when_the_day_changes(tmp_path: Path) -> None:
    live = tmp_path / "actions.log"
    write(live, "yesterday\n")
    keeper = LogKeeper([live], LogSettings())
    assert keeper.maintain() == []
    rotated = keeper.maintain(now=time.time() + DAY_S)
    assert [p.read_text() for p in rotated] == ["yesterday\n"]
    assert live.read_text() == ""


def test_rotated_logs_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    live = tmp_path / "rasa.log"
    write(live, "now\n")
    old = tmp_path / "rasa.log.2020-01-01T000000"
    recent = tmp_path / "rasa.log.2020-01-20T000000"
    for path, age_days in ((old, 15), (recent, 13)):
        write(path, "old lines\n")
        stamp = time.time() - age_days * DAY_S
        os.utime(path, (stamp, stamp))
    LogKeeper([live], LogSettings(retention_days=14)).maintain()
    assert not old.exists()
    assert recent.exists() and live.exists()


def test_the_runner_log_is_private(tmp_path: Path) -> None:
    handler = PrivateFileHandler(tmp_path / "logs" / "stack.log")
    logger = logging.getLogger("stack.test_private_log")
    logger.addHandler(handler)
    try:
        logger.warning("rasa server restarted")
    finally:
        logger.removeHandler(handler)
        handler.close()
    path = tmp_path / "logs" / "stack.log"
    assert "rasa server restarted" in path.read_text()
    assert path.stat().st_mode & 0o077 == 0
