"""The REST channel: Rasa's, with identity proven by a bearer token and its own id space.

- The customer is whoever ``Authorization: Bearer <token>`` names, when the token is a valid
  customer token (``personalization.auth.tokens``). A sender id or metadata proves nothing.
- The conversation id is ``rest:<sender>``, and with a valid token ``rest:<customer>+<sender>``
  (``+`` cannot occur in a sender). Senders are chosen by callers, so this keeps every
  customer's conversations apart from everyone else's: another customer's token, or none,
  with the same sender lands in another conversation and can neither read nor answer this
  one. No REST caller reaches a web chat or Slack conversation, nor passes for another
  channel (Rasa's channel takes ``input_channel`` from the request body; this one does not).
- A malformed body or sender id is answered with 400 and a reason, before Rasa sees it.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.exceptions import SanicException
from sanic.request import Request

from channels.identity import ChannelIdentity
from personalization.auth import bearer
from personalization.auth.tokens import VerifiedToken

MAX_MESSAGE_CHARS = 2000  # as the web chat's (channels/socketio.py)
SENDER = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}\Z")
PREFIX = "rest:"


class BadRestRequest(SanicException):
    status_code = 400
    quiet = True


def bearer_token(request: Request) -> str | None:
    return bearer.bearer_token(request.headers.get("authorization"))


def client_address(request: Request) -> str:
    """The peer's address; behind a proxy, Sanic's forwarded settings decide what that is."""
    return str(request.remote_addr or request.ip or "unknown")


class RestChannel(RestInput):
    identity: ChannelIdentity | None = None

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestChannel:
        channel = cls()
        channel.identity = ChannelIdentity.from_env(cls.name())
        return channel

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json
        except Exception as exc:  # Sanic raises its own error for a body that is not JSON
            raise BadRestRequest("the body must be a JSON object") from exc
        if not isinstance(body, dict):
            raise BadRestRequest("the body must be a JSON object")
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
        if not isinstance(sender, str) or not SENDER.match(sender):
            raise BadRestRequest(
                "`sender` must be 1 to 128 letters, digits or the characters _ . @ : -"
            )
        verified = self._verified(req)
        return f"{PREFIX}{verified.customer_id}+{sender}" if verified else PREFIX + sender

    def _extract_message(self, req: Request) -> str:
        message = self._body(req).get("message")
        if not isinstance(message, str):
            raise BadRestRequest("`message` must be a string")
        if len(message) > MAX_MESSAGE_CHARS:
            # Parsing runs on Rasa's event loop: one huge message would stall every chat.
            raise BadRestRequest(f"`message` must be at most {MAX_MESSAGE_CHARS} characters")
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
