"""Rasa's socket.io channel, as the web chat uses it, with three corrections.

1. Replies reach the page. Rasa 3.6 calls ``AsyncServer.enter_room`` without ``await``; since
   python-socketio 5.10 it is a coroutine, so with ``session_persistence`` the socket never
   joined its session's room and no bot message arrived (RasaHQ/rasa#13027).
2. Session ids are the server's. Rasa uses the client's ``session_id`` as the sender id, and
   our sender ids double as customer ids. A client could send ``cust-0001`` and be that
   customer. Only ids of the form the server issues (32 hex digits) are accepted; any other
   gets a fresh one.
3. The customer id in the metadata is checked when WEBCHAT_IDENTITY_KEY is set. The shop's
   signed-in page then sends ``customer_signature``, an HMAC-SHA256 of the id under that key,
   and an id without a valid signature is dropped (the visitor is anonymous). Without the key,
   as in the local demo, the id is taken as given.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_MESSAGE_CHARS = 2000


def sign_customer(customer_id: str, key: str) -> str:
    """The signature a signed-in shop page sends with the customer id."""
    return hmac.new(key.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def verified_metadata(metadata: Any, key: str | None) -> dict[str, Any]:
    """The message metadata, keeping ``customer_id`` only if it may be trusted."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = {}
    if not isinstance(metadata, dict):
        return {}
    metadata = dict(metadata)
    signature = str(metadata.pop("customer_signature", ""))
    customer_id = metadata.get("customer_id")
    if customer_id is not None and (
        not isinstance(customer_id, str)
        or (key and not hmac.compare_digest(signature, sign_customer(customer_id, key)))
    ):
        log.warning("dropped a web chat customer id without a valid signature")
        metadata.pop("customer_id")
    return metadata


class SocketIOChannel(SocketIOInput):
    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SocketIOChannel:
        channel = super().from_credentials(credentials)
        assert isinstance(channel, SocketIOChannel)
        channel.identity_key = os.environ.get("WEBCHAT_IDENTITY_KEY", "").strip() or None
        if channel.identity_key is None:
            log.warning(
                "WEBCHAT_IDENTITY_KEY is unset: the web chat trusts the customer id it is "
                "sent. Set it in production and sign ids on the shop's page."
            )
        return channel

    identity_key: str | None = None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: dict | None) -> None:
            requested = (data or {}).get("session_id")
            session_id = (
                requested
                if isinstance(requested, str) and SESSION_ID.match(requested)
                else uuid.uuid4().hex
            )
            if self.session_persistence:
                await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: dict) -> None:
            if not isinstance(data, dict):
                return
            if self.session_persistence:
                session_id = data.get("session_id")
                if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
                    log.warning("ignored a web chat message without a valid session id")
                    return
                sender_id = session_id
            else:
                sender_id = sid
            text = str(data.get("message") or "")[:MAX_MESSAGE_CHARS]
            await on_new_message(
                UserMessage(
                    text,
                    SocketIOOutput(sio, self.bot_message_evt),
                    sender_id,
                    input_channel=self.name(),
                    metadata=verified_metadata(data.get(self.metadata_key), self.identity_key),
                )
            )

        return blueprint
