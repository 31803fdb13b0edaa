"""Objects alive once the model is loaded are kept out of full garbage collections."""

from __future__ import annotations

import gc

import pytest
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from stack import heap
from tests.stack.asgi import Client


def test_freeze_moves_live_objects_out_of_collections_and_new_ones_are_still_collected() -> None:
    kept = [object() for _ in range(1000)]
    try:
        frozen = heap.freeze()
        assert frozen >= len(kept) and gc.get_freeze_count() == frozen
        garbage = [[n] for n in range(100)]
        garbage.append(garbage)  # a cycle only the collector can free
        del garbage
        assert gc.collect() > 0, "objects made after the freeze are collected as before"
    finally:
        gc.unfreeze()


def test_the_server_freezes_once_it_has_started(monkeypatch: pytest.MonkeyPatch) -> None:
    # A full collection of a whole test session's heap may outlast the start-up helper's wait.
    monkeypatch.setattr(heap.gc, "collect", lambda *args: 0)
    gc.unfreeze()
    app = Sanic("heap_test")

    @app.get("/")
    async def index(_request: Request) -> HTTPResponse:
        return response.text("ok")

    heap.freeze_once_serving(app)
    assert gc.get_freeze_count() == 0, "nothing is frozen before the server starts"
    client = Client(app)  # runs the start-up listeners
    try:
        assert gc.get_freeze_count() > 0
        assert client.get("/").status == 200
    finally:
        client.close()
        gc.unfreeze()
