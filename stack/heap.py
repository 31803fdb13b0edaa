"""Long-lived objects kept out of Python's full garbage collections.

A loaded Rasa model (TensorFlow, scikit-learn, the domain) is about half a million objects
that live as long as the process. Each full collection walked them all: 0.3 s measured on the
loaded model, with the event loop stopped, so every conversation in flight waited, which
showed as the tail of the latency under load. ``gc.freeze()`` moves every object alive at
that moment to a permanent generation that collections skip; objects made later are
collected as before.

Only the Rasa server freezes, once its model is loaded: its model stays for the life of the
process. The action server does not, since it replaces its recommender after an erasure or a
retraining, and a frozen model that held a reference cycle would never be freed. Rasa's own
model replacement (``PUT /model`` on its HTTP API) has the same limit: restart the server
after it to give the old model's memory back.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

log = logging.getLogger(__name__)


def freeze() -> int:
    """Collect once, then freeze what is left; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("%d long-lived objects kept out of garbage collections", frozen)
    return frozen


def freeze_once_serving(app: Any) -> None:
    """Freeze after the server started: Rasa has loaded its model by then."""

    async def freeze_now(*_args: Any) -> None:
        freeze()

    app.register_listener(freeze_now, "after_server_start")
