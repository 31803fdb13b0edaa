"""The operators' side of the running stack: metrics without customer data, the insights
page behind its token, and the experiments' records of real conversations."""

from __future__ import annotations

import re

import pytest
import requests

from tests.e2e.stack import RunningStack, query

pytestmark = pytest.mark.e2e


def test_metrics_count_conversations_but_name_no_customer(stack: RunningStack) -> None:
    stack.texts("metrics-probe", "hi")
    stack.texts("metrics-probe", "what are your delivery times?")
    rasa = requests.get(
        f"{stack.base_url}/metrics",
        timeout=10,
        headers={"Authorization": f"Bearer {stack.api_token}"},
    )
    actions = requests.get(
        f"{stack.action_url}/metrics",
        timeout=10,
        headers={"Authorization": f"Bearer {stack.action_token}"},
    )
    assert rasa.status_code == 200 and actions.status_code == 200
    assert re.search(r'shopbot_message_seconds_count\{channel="rest"\} [1-9]', rasa.text)
    assert re.search(
        r'shopbot_action_seconds_count\{action="action_session_start"\} [1-9]', actions.text
    )
    assert 'shopbot_model_version_info{model="rasa"' in rasa.text
    for text in (rasa.text, actions.text):
        assert "metrics-probe" not in text and "delivery times" not in text
        assert "cust-" not in text
    assert requests.get(f"{stack.base_url}/metrics", timeout=10).status_code == 401


def test_the_insights_page_is_served_to_operators_only(stack: RunningStack) -> None:
    page = requests.get(f"{stack.insights_url}/insights/", timeout=60, allow_redirects=False)
    assert page.status_code == 302 and page.headers["location"] == "/insights/login"
    page = requests.get(
        f"{stack.insights_url}/insights/",
        timeout=60,
        headers={"Authorization": f"Bearer {stack.operator_token}"},
    )
    assert page.status_code == 200 and "Support bot insights" in page.text


def test_a_conversation_is_enrolled_in_the_running_experiment(stack: RunningStack) -> None:
    stack.texts("cust-0005", "hello")
    [(experiment, unit, arm, served)] = query(
        stack,
        "SELECT experiment, unit_id, arm, served_arm FROM experiment_exposures "
        "WHERE customer_id = %s",
        "cust-0005",
    )
    assert experiment == "style-bandit-vs-fixed" and unit == "customer:cust-0005"
    assert arm == served and arm in ("bandit", "house-style")
