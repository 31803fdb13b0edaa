"""Rasa's event classes looked up by name in a table, not by walking the class tree.

Rasa 3.6 resolves every stored event's ``"event"`` name by listing all subclasses of
``Event`` again (``rasa.shared.utils.common.all_subclasses``, with ``inspect.isabstract`` on
each): for a tracker of a few hundred events, that walk was about a tenth of the Rasa
server's CPU per message under load. The table gives the same class as Rasa's walk (the
first class with the name, in the walk's order), and is rebuilt when a name is missing, so an
event class imported later is still found.
"""

from __future__ import annotations

from typing import Any

_MARK = "_resolved_from_table"
_table: dict[str, Any] = {}


def _rebuild() -> None:
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    table: dict[str, Any] = {}
    for cls in all_subclasses(Event):
        table.setdefault(cls.type_name, cls)
    _table.clear()
    _table.update(table)


def install() -> None:
    from rasa.shared.core.events import Event

    if getattr(Event.resolve_by_type, _MARK, False):
        return
    original = Event.resolve_by_type

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = _table.get(type_name)
        if cls is None:
            _rebuild()
            cls = _table.get(type_name)
        if cls is not None:
            return cls
        return original(type_name, default)  # Rasa's answer for the unknown names

    setattr(resolve_by_type, _MARK, True)
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[assignment]
