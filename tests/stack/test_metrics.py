"""``/metrics`` on the Rasa and action servers: Prometheus text, behind each server's token."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sanic import Sanic, response
from sanic.request import Request

import rasa_sdk_plugins
from personalization import metrics
from personalization.settings import ActionServerSettings
from stack.rasa_server import guarded
from tests.stack.asgi import Client, bearer

pytestmark = [
    pytest.mark.usefixtures("sanic_test_mode"),
    pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning"),
]
TOKEN = "t" * 40


def test_rasa_serves_metrics_only_with_its_api_token() -> None:
    def configure_app(*args: Any, **kwargs: Any) -> Sanic:
        app = Sanic("t" + uuid.uuid4().hex)

        async def ok(request: Request) -> Any:
            return response.json({})

        app.add_route(ok, "/webhooks/rest/")
        return app

    metrics.MESSAGES_REFUSED.labels(channel="rest", reason="too_long").inc()
    client = Client(guarded(configure_app, TOKEN)())
    try:
        assert client.get("/metrics").status == 401
        reply = client.get("/metrics", headers=bearer(TOKEN))
        assert reply.status == 200
        text = reply.body.decode()
        assert 'shopbot_messages_refused_total{channel="rest",reason="too_long"}' in text
        assert "# TYPE shopbot_process_restarts_total counter" in text
    finally:
        client.close()


def test_the_action_server_serves_metrics_only_with_its_secret() -> None:
    app = Sanic("t" + uuid.uuid4().hex)
    rasa_sdk_plugins.guard(app, ActionServerSettings(token=TOKEN))
    client = Client(app)
    try:
        assert client.get("/metrics").status == 401
        reply = client.get("/metrics", headers=bearer(TOKEN))
        assert reply.status == 200
        assert "# TYPE shopbot_store_calls_total counter" in reply.body.decode()
    finally:
        client.close()
