"""stack/debug_snapshots.py: Rasa copies nothing for debug lines structlog drops, and copies
as before when debug logging is on."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator

import pytest
import rasa.core.policies.rule_policy as rule_policy
import rasa.core.processor as processor
import structlog
from rasa.shared.core.events import UserUttered

from stack import debug_snapshots

pytestmark = pytest.mark.fast


@pytest.fixture
def installed() -> Iterator[None]:
    saved = structlog.get_config()
    debug_snapshots.install()
    yield
    debug_snapshots.uninstall()
    structlog.configure(**saved)


def level(minimum: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(minimum))


def test_no_copy_while_debug_lines_are_dropped(installed: None) -> None:
    level(logging.INFO)
    events = [UserUttered("where is my order?", parse_data={"intent": {"name": "ask_order"}})]
    assert processor.copy.deepcopy(events) is events
    assert rule_policy.copy.deepcopy(events) is events


def test_a_real_copy_when_debug_lines_are_written(installed: None) -> None:
    level(logging.DEBUG)
    states = [{"user": {"intent": "greet"}}]
    copied = processor.copy.deepcopy(states)
    assert copied == states and copied is not states and copied[0] is not states[0]


def test_uninstall_gives_the_real_module_back(installed: None) -> None:
    debug_snapshots.uninstall()
    assert processor.copy is copy and rule_policy.copy is copy
