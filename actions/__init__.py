"""The rasa-sdk action server, one module per support journey.

Actions stay thin: they read the tracker, ask the stores through a typed gateway
(`actions.gateways`, whose calls answer ok, unavailable or refused) and answer. They never
raise to Rasa.
"""

from personalization.settings import actions_warm_up as _warm_up_wanted

try:  # the door rasa-sdk loads as its plugin: without it the server would take any caller
    import rasa_sdk_plugins as _door  # noqa: F401
except ModuleNotFoundError as _missing:
    raise RuntimeError(
        "rasa_sdk_plugins is not importable, so the action server would run without its "
        "secret check: install the project (pip install -e .) or run from its root"
    ) from _missing

if _warm_up_wanted():  # set by the stack for the action server
    from actions import personalization_client as _client

    _client.warm_up()
