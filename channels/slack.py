"""Slack: Rasa's Slack channel, configured from the environment, knowing who is writing.

- **Optional.** A fresh checkout has no Slack app, and Rasa's channel refuses to start without
  a signing secret. When the token or secret is empty, the channel is replaced by one that
  keeps the `/webhooks/slack/webhook` route and answers 503 with the reason.
- **Signed requests only.** Rasa checks `X-Slack-Signature` against the signing secret and
  answers 400 to anything else, before the body is read as an event.
- **Replaceable API address.** Outgoing Web API calls go to `slack_api_url` (SLACK_API_URL,
  default https://slack.com/api/), with a timeout, so tests and proxies can stand in.
- **Customers, not just Slack users.** With the `users:read.email` scope, the email on the
  writer's Slack account is looked up among the shop's customers. Slack has verified the
  address, and Rasa has checked Slack's signature on the request, so a match is a proof: the
  message's identity block names the customer (method ``slack_email``). Without the scope, or
  with no match, the person is an anonymous visitor. The email is used only for the lookup
  and is never logged.
- **Its own conversations.** Conversation ids are ``slack:`` and the user and channel, so a
  direct message and a shared channel are two conversations, and no other channel can reach
  either. Only a direct message is private: personal data is shown only there.
- **The door's checks** (``channels.doors``): a body over MAX_REQUEST_BODY_BYTES is refused
  with 413 while it arrives, a conversation id that is not a safe sender id with 400, a
  message over MAX_MESSAGE_CHARS gets a polite answer in Slack without reaching Rasa, and a
  failure inside Rasa the trouble reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from channels import doors, parsing
from channels.identity import ChannelIdentity
from personalization.settings import DatabaseSettings, InputLimits
from personalization.store import Database
from personalization.store.customers import CustomerRepository

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
API_TIMEOUT_S = 5
LOOKUP_TIMEOUT_S = 2.0  # Slack wants an answer to the event within 3 s
IDENTITY_TTL_S = 600.0
MAX_BUTTONS = 5  # Slack's limit for one message


async def unconfigured_webhook(_: Request | None) -> HTTPResponse:
    return response.json(
        {"error": "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"},
        status=HTTPStatus.SERVICE_UNAVAILABLE,
    )


class UnconfiguredSlack(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "slack"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("slack_unconfigured", __name__)
        blueprint.add_route(unconfigured_webhook, "/webhook", methods=["GET", "POST"])
        return blueprint


# The bot's Markdown (personalization.chat_markdown): [title](http(s) address), **bold**, and
# "- " list items at the start of a line.
_MD_LINK = re.compile(r"\[((?:\\.|[^\[\]\\]){1,300})\]\((https?://[^\s()<>|]+)\)", re.IGNORECASE)
_MD_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_MD_BULLET = re.compile(r"^[-*] (?=\S)", re.MULTILINE)
_ENTITY_LIKE = re.compile(r"&(?=#?\w+;)")


def _escape(text: str) -> str:
    """Slack's three control characters. ``<`` and ``>`` always, so no text becomes a link or
    a mention (``<!channel>``); ``&`` only where Slack would read an entity, so "Hearth & Home"
    stays as written."""
    return _ENTITY_LIKE.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(text: str) -> str:
    """A bot text in Slack's mrkdwn: links as <address|title>, **bold** as *bold*, "- "
    items as "•" lines (Slack has no Markdown lists), everything else as written."""
    pieces: list[str] = []
    last = 0
    for link in _MD_LINK.finditer(text):
        pieces.append(_MD_BOLD.sub(r"*\1*", _escape(text[last : link.start()])))
        title = _escape(re.sub(r"\\(.)", r"\1", link.group(1))).replace("|", "¦")
        pieces.append(f"<{link.group(2)}|{title}>")
        last = link.end()
    pieces.append(_MD_BOLD.sub(r"*\1*", _escape(text[last:])))
    return _MD_BULLET.sub("• ", "".join(pieces))


class ShopSlackBot(SlackBot):
    """Rasa's Slack output, posting to a configurable API address with a timeout, the bot's
    Markdown as mrkdwn, and each text as one message (Rasa's posts every paragraph apart, which
    would split an article's intro from its list)."""

    def __init__(
        self,
        token: str,
        slack_channel: str | None,
        thread_id: str | None,
        proxy: str | None,
        api_url: str,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.client = AsyncWebClient(token, base_url=api_url, timeout=API_TIMEOUT_S, proxy=proxy)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._post_message(
            channel=self.slack_channel or recipient_id,
            as_user=True,
            text=to_mrkdwn(text.strip()),
            type="mrkdwn",
        )

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        if len(buttons) > MAX_BUTTONS:  # Slack would drop them all: Rasa sends the text alone
            await super().send_text_with_buttons(recipient_id, text, buttons, **kwargs)
            return
        shown = to_mrkdwn(text.strip())
        await self._post_message(
            channel=self.slack_channel or recipient_id,
            as_user=True,
            text=shown,
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": shown}},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": button["title"]},
                            "value": button["payload"],
                        }
                        for button in buttons
                    ],
                },
            ],
        )


class SlackIdentities:
    """Slack user id → customer id, via the account's email; remembered for a while."""

    def __init__(self, client: AsyncWebClient, ttl_s: float = IDENTITY_TTL_S) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, str | None]] = {}
        self._db: Database | None = None

    async def customer_for(self, slack_user: str) -> str | None:
        remembered = self._known.get(slack_user)
        if remembered is not None and time.monotonic() - remembered[0] < self._ttl_s:
            return remembered[1]
        try:
            customer_id = await asyncio.wait_for(self._match(slack_user), LOOKUP_TIMEOUT_S)
        except Exception as exc:  # Slack or the store down: an anonymous visitor, not an error
            log.warning("Slack user %s not matched to a customer: %s", slack_user, exc)
            return None
        self._known[slack_user] = (time.monotonic(), customer_id)
        return customer_id

    async def _match(self, slack_user: str) -> str | None:
        email = await self._email(slack_user)
        return await asyncio.to_thread(self._lookup, email) if email else None

    async def _email(self, slack_user: str) -> str | None:
        try:
            answer = await self._client.users_info(user=slack_user)
        except SlackApiError as exc:  # e.g. missing_scope: the workspace does not share emails
            log.info("Slack users.info for %s: %s", slack_user, exc.response.get("error"))
            return None
        email = (answer.get("user") or {}).get("profile", {}).get("email")
        return email if isinstance(email, str) and "@" in email else None

    def _lookup(self, email: str) -> str | None:
        if self._db is None:
            self._db = Database(DatabaseSettings.from_env())
        customer = CustomerRepository(self._db).find_by_email(email)
        return customer.id if customer else None


def slack_user_of(request: Request) -> str | None:
    """The Slack user who wrote or clicked, from an event or an interactive payload."""
    if request.headers.get("content-type") == "application/json":
        user = ((request.json or {}).get("event") or {}).get("user")
    else:
        payload = json.loads(request.form.get("payload") or "{}")
        user = (payload.get("user") or {}).get("id")
    return user if isinstance(user, str) and user else None


def from_own_workspace(request: Request) -> bool:
    """Whether the writer belongs to the workspace the app is installed in. Over Slack
    Connect, people of other organisations can write too, and their admins set their emails:
    those are not verified for us."""
    if request.headers.get("content-type") == "application/json":
        body = request.json or {}
        team = body.get("team_id")
        user_team = (body.get("event") or {}).get("user_team")
    else:
        payload = json.loads(request.form.get("payload") or "{}")
        team = (payload.get("team") or {}).get("id")
        user_team = (payload.get("user") or {}).get("team_id")
    return not user_team or not team or user_team == team


def is_direct_message(request: Request, metadata: dict | None) -> bool:
    """Only a direct message with the bot is private; channel ids of DMs start with D."""
    if request.headers.get("content-type") == "application/json":
        event = (request.json or {}).get("event") or {}
        if event.get("channel_type") == "im":
            return True
    channel = (metadata or {}).get("out_channel")
    return isinstance(channel, str) and channel.startswith("D")


class SlackChannel(SlackInput):
    api_url: str = DEFAULT_API_URL
    identities: SlackIdentities | None = None
    identity: ChannelIdentity | None = None
    limits: InputLimits | None = None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's Slack routes, every message through the door, the body read under a limit
        (Rasa's route would read any body whole before checking Slack's signature)."""
        parsing.install()
        limits = self.limits or InputLimits.from_env()
        stock = super().blueprint(doors.guarded(on_new_message, self.name(), limits))
        routes = {route.uri: route.handler for route in stock._future_routes}
        blueprint = Blueprint("slack_webhook", __name__)
        blueprint.add_route(routes["/"], "/", methods=["GET"])
        stock_webhook = routes["/webhook"]

        @blueprint.route("/webhook", methods=["GET", "POST"], stream=True)
        async def webhook(request: Request) -> HTTPResponse:
            try:
                await doors.read_body(request, limits.max_body_bytes)
            except doors.BodyTooLarge:
                doors.refused(self.name(), "body_too_large")
                raise
            return await stock_webhook(request)

        return blueprint

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        if not credentials.get("slack_token") or not credentials.get("slack_signing_secret"):
            log.warning(
                "Slack is not configured (SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is "
                "empty); its webhook will answer 503"
            )
            return UnconfiguredSlack()
        channel = super().from_credentials(credentials)
        assert isinstance(channel, SlackChannel)
        channel.api_url = credentials.get("slack_api_url") or DEFAULT_API_URL
        channel.identity = ChannelIdentity.from_env("slack")
        channel.identities = SlackIdentities(
            AsyncWebClient(
                channel.slack_token,
                base_url=channel.api_url,
                timeout=API_TIMEOUT_S,
                proxy=channel.proxy,
            )
        )
        return channel

    def get_output_channel(
        self, channel: str | None = None, thread_id: str | None = None
    ) -> OutputChannel:
        return ShopSlackBot(
            self.slack_token, channel or self.slack_channel, thread_id, self.proxy, self.api_url
        )

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        sender_id: str | None,
        metadata: dict | None,
    ) -> Any:
        slack_user = slack_user_of(request)
        if not slack_user or not sender_id:
            return response.text("")
        if not doors.valid_sender(sender_id):
            doors.refused(self.name(), "bad_sender")
            return response.text(
                "the Slack user, channel or thread id is not a valid sender id",
                status=HTTPStatus.BAD_REQUEST,
            )
        customer_id = None
        if self.identities is not None and from_own_workspace(request):
            customer_id = await self.identities.customer_for(slack_user)
        identity = self.identity or ChannelIdentity.from_env("slack")
        metadata = identity.metadata(
            metadata,
            channel="slack",
            client=slack_user,
            address=slack_user,
            customer_id=customer_id,
            method="slack_email" if customer_id else None,
            private=is_direct_message(request, metadata),
        )
        return await super().process_message(
            request, on_new_message, text, f"slack:{sender_id}", metadata
        )
