"""The body of Rasa's calls to the action server, with the domain encoded once.

Rasa 3.6 puts the whole domain into every call to the action server (`RemoteAction.
_action_call_format`) and JSON-encodes it again each time: 25 KB here, for the call that runs
after every customer message and for each custom action. Under 50 concurrent conversations that
encoding was about a twelfth of a Rasa server's CPU (py-spy), and the action server spent as
much decoding it.

`install()` keeps Rasa's format and its `enable_selective_domain` rule, and changes two things:

- the domain is encoded once per loaded model (a `Domain` object) and spliced into the body as
  text (`dumps`), since a loaded domain does not change;
- it leaves out `responses`, four fifths of it: Rasa renders a response an action names, and
  neither rasa-sdk nor an action here reads their texts. An action that needs them can read
  `domain.yml`.

`dumps` is what the action endpoint's sessions encode a body with (stack/action_calls.py). Any
other encoder still gets valid JSON: the encoded domain is also a plain dict.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

LEFT_OUT = ("responses",)

_MARK = "_encodes_domain_once"
_originals: dict[str, Any] = {}


class EncodedDomain(dict):
    """The domain sent to the action server, with its JSON text kept beside it."""

    def __init__(self, domain: dict[str, Any]) -> None:
        super().__init__({key: value for key, value in domain.items() if key not in LEFT_OUT})
        self.text = json.dumps(self)


# The last `Domain` seen and its encoding; a new model brings a new object.
_last: tuple[weakref.ref[Any], EncodedDomain] | None = None


def encoded_domain(domain: Any) -> EncodedDomain:
    """`domain.as_dict()` for the action server, encoded once per `Domain` object."""
    global _last
    last = _last
    if last is None or last[0]() is not domain:
        last = _last = (weakref.ref(domain), EncodedDomain(domain.as_dict()))
    return last[1]


def dumps(body: Any) -> str:
    """JSON for an action call, splicing in the domain's text instead of encoding it again."""
    domain = body.get("domain") if isinstance(body, dict) else None
    if not isinstance(domain, EncodedDomain):
        return json.dumps(body)
    rest = json.dumps({key: value for key, value in body.items() if key != "domain"})
    separator = ", " if rest != "{}" else ""
    return f'{rest[:-1]}{separator}"domain": {domain.text}}}'


def install() -> None:
    """Patch `RemoteAction._action_call_format`; a second call changes nothing."""
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction._action_call_format
    if getattr(original, _MARK, False):
        return

    def action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
        body = original(self, tracker, domain)
        if "domain" in body:
            body["domain"] = encoded_domain(domain)
        return body

    setattr(action_call_format, _MARK, True)
    _originals["format"] = original
    RemoteAction._action_call_format = action_call_format


def uninstall() -> None:
    """Put Rasa's own method back (for tests)."""
    if "format" in _originals:
        from rasa.core.actions.action import RemoteAction

        RemoteAction._action_call_format = _originals.pop("format")
