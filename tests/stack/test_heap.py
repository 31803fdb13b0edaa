"""Objects alive once the model is loaded are kept out of full garbage collections."""

from __future__ import annotations

import asyncio
import gc

import pytest
from sanic import Sanic

from stack import heap

pytestmark = pytest.mark.fast


def test_freeze_moves_live_objects_out_of_collections_and_new_ones_are_still_collected() -> None:
    kept = [object() for _ in range(1000)]
    try:
        frozen = heap.freeze()
        # Another thread of the test process may free a frozen object meanwhile: at least.
        assert frozen >= len(kept) and gc.get_freeze_count() >= len(kept)
        garbage = [[n] for n in range(100)]
        garbage.append(garbage)  # a cycle only the collector can free
        del garbage
        assert gc.collect() > 0, "objects made after the freeze are collected as before"
    finally:
        gc.unfreeze()


def test_the_server_freezes_once_it_has_started(monkeypatch: pytest.MonkeyPatch) -> None:
    # A full collection of a whole test session's heap would only make this test slow.
    monkeypatch.setattr(heap.gc, "collect", lambda *args: 0)
    gc.unfreeze()
    app = Sanic("heap_test")
    heap.freeze_once_serving(app)
    assert gc.get_freeze_count() == 0, "nothing is frozen before the server starts"
    # Sanic runs "after_server_start" listeners on its server.init.after signal.
    [listener] = [
        route.handler.keywords["listener"]
        for route in app.signal_router.routes
        if route.path.startswith("server.init.")
    ]
    try:
        asyncio.run(listener(app, None))
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
