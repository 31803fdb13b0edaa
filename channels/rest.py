"""The REST channel: Rasa's, with identity proven by a bearer token and its own id space.

- The customer is whoever ``Authorization: Bearer <token>`` names, when the token is a valid
  customer token (``personalization.auth.tokens``). A sender id or metadata proves nothing.
- The conversation id is ``rest:<sender>``, and with a valid token ``rest:<customer>+<sender>``
  (``+`` cannot occur in a sender). Senders are chosen by callers, so this keeps every
  customer's conversations apart from everyone else's: another customer's token, or none,
  with the same sender lands in another conversation and can neither read nor answer this
  one. No REST caller reaches a web chat or Slack conversation, nor passes for another
  channel (Rasa's channel takes ``input_channel`` from the request body; this one does not).
- A malformed body (not JSON, not an object, a field of the wrong type) or a bad sender id
  is answered with 400 and a reason, a body over MAX_REQUEST_BODY_BYTES with 413, before Rasa
  sees it; never with a 500.
- A message over MAX_MESSAGE_CHARS gets a polite bot answer (HTTP 200) and never reaches
  Rasa; a failure inside Rasa (e.g. Redis down) gets the trouble reply, never ``[]``, and its
  log line holds no customer text (``channels.doors``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from channels import doors, parsing
from channels.identity import ChannelIdentity
from personalization.auth import bearer
from personalization.auth.tokens import VerifiedToken
from personalization.settings import InputLimits

MAX_MESSAGE_CHARS = InputLimits().max_message_chars  # the default; MAX_MESSAGE_CHARS sets it
SENDER = doors.SENDER
PREFIX = "rest:"


class BadRestRequest(SanicException):
    status_code = 400
    quiet = True


class BadSender(BadRestRequest):
    """A sender id that is not 1 to 128 safe characters."""


def bearer_token(request: Request) -> str | None:
    return bearer.bearer_token(request.headers.get("authorization"))


def client_address(request: Request) -> str:
    """The peer's address; behind a proxy, Sanic's forwarded settings decide what that is."""
    return str(request.remote_addr or request.ip or "unknown")


class RestChannel(RestInput):
    identity: ChannelIdentity | None = None
    limits: InputLimits | None = None

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestChannel:
        channel = cls()
        channel.identity = ChannelIdentity.from_env(cls.name())
        channel.limits = InputLimits.from_env()
        return channel

    def _limits(self) -> InputLimits:
        if self.limits is None:
            self.limits = InputLimits.from_env()
        return self.limits

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        """The body as a JSON object, parsed once per request."""
        if hasattr(request.ctx, "json_body"):
            return request.ctx.json_body
        try:
            body = json.loads(request.body or b"")
        except (ValueError, RecursionError) as exc:  # also bad UTF-8, and absurd nesting
            raise BadRestRequest("the body must be a JSON object") from exc
        if not isinstance(body, dict):
            raise BadRestRequest("the body must be a JSON object")
        request.ctx.json_body = body
        return body

    def _identity(self) -> ChannelIdentity:
        if self.identity is None:
            self.identity = ChannelIdentity.from_env(self.name())
        return self.identity

    def _verified(self, req: Request) -> VerifiedToken | None:
        """The request's customer token, checked once per request."""
        if not hasattr(req.ctx, "customer_token"):
            req.ctx.customer_token = self._identity().check_token(bearer_token(req), self.name())
        return req.ctx.customer_token

    async def _extract_sender(self, req: Request) -> str:
        sender = self._body(req).get("sender")
        if not doors.valid_sender(sender):
            raise BadSender(doors.SENDER_RULE)
        verified = self._verified(req)
        return f"{PREFIX}{verified.customer_id}+{sender}" if verified else PREFIX + sender

    def _extract_message(self, req: Request) -> str:
        message = self._body(req).get("message")
        if not isinstance(message, str):
            raise BadRestRequest("`message` must be a string")
        # A message over the limit is answered politely by the door (channels.doors), which
        # keeps it from Rasa: it is not a malformed request.
        return message

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def get_metadata(self, request: Request) -> dict[str, Any]:
        address = client_address(request)
        return self._identity().metadata(
            self._body(request).get("metadata"),
            channel=self.name(),
            client=address,
            address=address,
            verified=self._verified(request),
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's two REST routes, with the body read under a size limit and every message
        passed through the door (``channels.doors.guarded``)."""
        parsing.install()
        handle = doors.guarded(on_new_message, self.name(), self._limits())
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse | ResponseStream:
            try:
                await doors.read_body(request, self._limits().max_body_bytes)
            except doors.BodyTooLarge:
                doors.refused(self.name(), "body_too_large")
                raise
            try:
                sender_id = await self._extract_sender(request)
                text = self._extract_message(request)
                stream = bool_arg(request, "stream", default=False)
                metadata = self.get_metadata(request)
            except BadRestRequest as exc:
                doors.refused(
                    self.name(), "bad_sender" if isinstance(exc, BadSender) else "bad_request"
                )
                raise
            if stream:
                return response.stream(
                    self.stream_response(handle, text, sender_id, self.name(), metadata),
                    content_type="text/event-stream",
                )
            collector = CollectingOutputChannel()
            await handle(
                UserMessage(
                    text, collector, sender_id, input_channel=self.name(), metadata=metadata
                )
            )
            return response.json(collector.messages)

        return webhook
