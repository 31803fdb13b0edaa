"""Check the action server's answers with a JSON-schema validator built once, not per call.

Rasa 3.6 checks every answer of the action server with ``jsonschema.validate(result,
schema)``. That function first checks the schema itself against its metaschema, then builds
a fresh validator, on every call: with Rasa's schema of every event type, most of the Rasa
server's CPU per message went there. ``install()`` keeps Rasa's behaviour and its error
message, with the schema checked once and one validator reused.
"""

from __future__ import annotations

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


def validate_action_result(result: dict[str, Any]) -> bool:
    """As ``RemoteAction._validate_action_result``: True, or Rasa's ValidationError."""
    from rasa.shared.constants import DOCS_BASE_URL

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
