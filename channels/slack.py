"""Slack, optional: Rasa's Slack channel refuses to start without a signing secret.

A fresh checkout has no Slack app, so when the token or signing secret is empty the channel
is replaced by one that keeps the `/webhooks/slack/webhook` route and answers 503 with the
reason, instead of stopping the whole server.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.slack import SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)


class UnconfiguredSlack(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "slack"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("slack_unconfigured", __name__)

        @blueprint.route("/webhook", methods=["GET", "POST"])
        async def webhook(_: Request) -> HTTPResponse:
            return response.json(
                {"error": "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"},
                status=HTTPStatus.SERVICE_UNAVAILABLE,
            )

        return blueprint


class SlackChannel(SlackInput):
    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        if not credentials.get("slack_token") or not credentials.get("slack_signing_secret"):
            log.warning(
                "Slack is not configured (SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is "
                "empty); its webhook will answer 503"
            )
            return UnconfiguredSlack()
        return super().from_credentials(credentials)
