"""``/metrics`` on the Rasa and action servers: Prometheus text, behind each server's token."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionNotFoundException
from sanic import Sanic, response
from sanic.request import Request

import rasa_sdk_plugins
from personalization import metrics
from personalization.settings import ActionServerSettings
from stack.rasa_server import guarded
from tests.conftest import PROJECT_ROOT
from tests.stack.asgi import Client, bearer

pytestmark = [
    pytest.mark.fast,
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


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_action_is_timed_and_its_errors_counted_by_registered_name() -> None:
    class Works(Action):
        def name(self) -> str:
            return "action_metrics_works"

        async def run(self, dispatcher: Any, tracker: Any, domain: Any) -> list[Any]:
            return []

    class Breaks(Action):
        def name(self) -> str:
            return "action_metrics_breaks"

        async def run(self, dispatcher: Any, tracker: Any, domain: Any) -> list[Any]:
            raise RuntimeError("broken")

    rasa_sdk_plugins.time_actions()
    rasa_sdk_plugins.time_actions()  # once per process, however often the plugin loads
    executor = ActionExecutor()
    executor.register_action(Works())
    executor.register_action(Breaks())
    call = {"tracker": {"sender_id": "s", "slots": {}, "events": [], "latest_message": {}}}
    before = sample("shopbot_action_seconds_count", action="action_metrics_works")
    asyncio.run(executor.run({**call, "next_action": "action_metrics_works"}))
    assert sample("shopbot_action_seconds_count", action="action_metrics_works") == before + 1
    errors = sample(
        "shopbot_action_errors_total", action="action_metrics_breaks", error="RuntimeError"
    )
    with pytest.raises(RuntimeError):
        asyncio.run(executor.run({**call, "next_action": "action_metrics_breaks"}))
    assert (
        sample("shopbot_action_errors_total", action="action_metrics_breaks", error="RuntimeError")
        == errors + 1
    )
    unknown = sample(
        "shopbot_action_errors_total", action="unknown", error="ActionNotFoundException"
    )
    with pytest.raises(ActionNotFoundException):
        asyncio.run(executor.run({**call, "next_action": "customer-said-this"}))
    assert (
        sample("shopbot_action_errors_total", action="unknown", error="ActionNotFoundException")
        == unknown + 1
    )
    assert 'action="customer-said-this"' not in metrics.exposition().decode()


def test_a_model_shows_only_the_version_it_serves() -> None:
    metrics.serve_model("test-model", "v1")
    metrics.serve_model("test-model", "v2")
    text = metrics.exposition().decode()
    assert 'shopbot_model_version_info{model="test-model",version="v2"} 1.0' in text
    assert 'version="v1"' not in text


def test_the_dashboard_reads_only_metrics_the_bot_exports() -> None:
    dashboard = json.loads((PROJECT_ROOT / "monitoring" / "grafana" / "shopbot.json").read_text())
    exported = {
        name
        for collector in (getattr(metrics, n) for n in metrics.__all__)
        if hasattr(collector, "describe")
        for family in collector.describe()
        for name in (
            family.name,
            f"{family.name}_total",
            f"{family.name}_bucket",
            f"{family.name}_count",
            f"{family.name}_sum",
        )
    }
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"shopbot_[a-z_]+", target["expr"])
    }
    assert len(used) >= 10
    assert used <= exported, used - exported
    scrape = yaml.safe_load((PROJECT_ROOT / "monitoring" / "prometheus.yml").read_text())
    for job in scrape["scrape_configs"]:
        assert job["authorization"]["credentials_file"], "/metrics needs each server's token"
