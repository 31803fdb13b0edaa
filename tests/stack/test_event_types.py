"""Rasa's event classes, found by name from a table: the same answers as Rasa's own walk."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import ActionExecuted, Event, UserUttered
from rasa.shared.utils.common import all_subclasses

from stack import event_types

pytestmark = pytest.mark.fast


@pytest.fixture()
def installed():
    original = Event.__dict__["resolve_by_type"]
    event_types.install()
    yield
    Event.resolve_by_type = original  # type: ignore[assignment]


def test_every_event_name_resolves_to_the_class_rasas_walk_finds(installed) -> None:
    walk: dict[str, type] = {}
    for cls in all_subclasses(Event):
        walk.setdefault(cls.type_name, cls)
    assert len(walk) > 20
    for name, cls in walk.items():
        assert Event.resolve_by_type(name) is cls
    event = Event.from_parameters({"event": "user", "text": "hi", "parse_data": {}})
    assert isinstance(event, UserUttered) and event.text == "hi"
    assert isinstance(Event.from_parameters({"event": "action", "name": "x"}), ActionExecuted)


def test_unknown_names_get_rasas_answers(installed) -> None:
    assert Event.resolve_by_type("no-such-event", default=UserUttered) is UserUttered
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no-such-event")


def test_an_event_class_defined_later_is_found(installed) -> None:
    Event.resolve_by_type("user")  # the table is built

    class LateEvent(ActionExecuted):
        type_name = "late_event_for_this_test"

    assert Event.resolve_by_type("late_event_for_this_test") is LateEvent
