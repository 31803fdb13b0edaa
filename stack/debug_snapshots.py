"""No deep copies for debug lines that are thrown away.

Rasa 3.6's processor and its memoization and rule policies deep-copy the turn's events,
parse data and dialogue states for every `structlogger.debug(...)` line they write, several
times per message. Python evaluates those arguments before structlog drops the line, so at
the default INFO level the copies are made and discarded: part of the tenth of a Rasa
server's CPU that went to `copy.deepcopy` under load (py-spy).

Those modules use `copy` for nothing else. `install()` gives each of them a stand-in whose
`deepcopy` returns its argument while structlog drops debug lines, and copies as before when
debug logging is on (where a log processor may rewrite what it is given).
"""

from __future__ import annotations

import copy
import importlib
import logging
from typing import Any

import structlog

MODULES = (
    "rasa.core.processor",
    "rasa.core.policies.memoization",
    "rasa.core.policies.rule_policy",
)

_DROPPED = structlog.make_filtering_bound_logger(logging.INFO).debug


def debug_lines_dropped() -> bool:
    """True when structlog's configured logger throws debug lines away unprocessed."""
    wrapper = structlog.get_config().get("wrapper_class")
    return getattr(wrapper, "debug", None) is _DROPPED


class CopyForDebugLines:
    """Stands in for the `copy` module where it only snapshots values for debug lines."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if debug_lines_dropped() else copy.deepcopy(value, memo)


def install() -> None:
    for name in MODULES:
        module = importlib.import_module(name)
        if getattr(module, "copy", None) is copy:
            module.copy = CopyForDebugLines  # type: ignore[attr-defined]


def uninstall() -> None:
    """Give the modules the real `copy` back (for tests)."""
    for name in MODULES:
        module = importlib.import_module(name)
        if getattr(module, "copy", None) is CopyForDebugLines:
            module.copy = copy  # type: ignore[attr-defined]
