"""The rasa-sdk action server, one module per support journey.

Actions stay thin: they read the tracker, ask `personalization` (through
`actions.personalization_client`) and answer. They never raise to Rasa.
"""

import os as _os

if _os.environ.get("ACTIONS_WARM_UP") == "1":  # set by the stack for the action server
    from actions import personalization_client as _client

    _client.warm_up()
