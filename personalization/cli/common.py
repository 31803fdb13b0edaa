"""What every command module shares: its errors and argument types."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone


class CommandError(RuntimeError):
    """The command cannot do what was asked; the message says why."""


class UsageError(RuntimeError):
    """The command was called in a way it cannot work; exit code 2."""


def as_of(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
