"""Check the action server's answers with a JSON-schema validator built once, not per call.

Rasa 3.6 checks every answer of the action server with ``jsonschema.validate(result,
schema)``. That function first checks the schema itself against its metaschema, then builds
a fresh validator, on every call: with Rasa's schema of every event type, most of the Rasa
server's CPU per message went there. ``install()`` keeps Rasa's behaviour and its error
message, with the schema checked once and one validator reused.

Most of what remained was the events' ``oneOf``: every event was tried against the schema
of each of some twenty event types, each failed try building its error. Each branch names
its type (``"event": {"const": …}``), so at most one can fit a given event: an answer is
accepted when every event fits the one branch its name picks. Anything else goes to the full
validator, which decides and words the error exactly as before.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from jsonschema import ValidationError, exceptions, validators

_MARK = "_validator_built_once"


@functools.cache
def _action_result_validator() -> Any:
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


class _ByEventType:
    """The schema with each event checked against its own type's branch of the ``oneOf``."""

    def __init__(self, schema: dict[str, Any]) -> None:
        schema = copy.deepcopy(schema)
        item = schema["properties"]["events"]["items"]
        branches = item.pop("oneOf")
        self.branches: dict[str, Any] = {}
        for branch in branches:
            name = branch["properties"]["event"]["const"]
            if name in self.branches:
                raise ValueError(f"two event branches for {name!r}")
            self.branches[name] = validators.validator_for(branch)(branch)
        self.outer = validators.validator_for(schema)(schema)  # events without their oneOf

    def accepts(self, result: Any) -> bool:
        if not self.outer.is_valid(result):
            return False
        events = result.get("events") if isinstance(result, dict) else None
        for event in events if isinstance(events, list) else ():
            branch = self.branches.get(event.get("event"))  # the outer schema made it a string
            if branch is None or not branch.is_valid(event):
                return False
        return True


@functools.cache
def _fast_path() -> _ByEventType | None:
    from rasa.core.actions.action import RemoteAction

    try:
        return _ByEventType(RemoteAction.action_response_format_spec())
    except (KeyError, TypeError, ValueError):  # another schema shape: the full check only
        return None


def validate_action_result(result: dict[str, Any]) -> bool:
    """As ``RemoteAction._validate_action_result``: True, or Rasa's ValidationError."""
    from rasa.shared.constants import DOCS_BASE_URL

    fast = _fast_path()
    if fast is not None and fast.accepts(result):
        return True
    error = exceptions.best_match(_action_result_validator().iter_errors(result))
    if error is None:
        return True
    assert isinstance(error, ValidationError)
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction, _MARK, False):
        return

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        return validate_action_result(result)

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    setattr(RemoteAction, _MARK, True)
