"""Rasa's socket.io channel, as the web chat uses it, with its identity made provable.

1. Replies reach the page. Rasa 3.6 calls ``AsyncServer.enter_room`` without ``await``; since
   python-socketio 5.10 it is a coroutine, so with ``session_persistence`` the socket never
   joined its session's room and no bot message arrived (RasaHQ/rasa#13027).
2. Session ids are the server's: each carries a MAC under IDENTITY_KEY, a made-up one is
   replaced, and a socket may speak only in the session it was confirmed in. The conversation
   id is ``web:`` and the session id, so no other channel can continue a web conversation.
3. The customer is whoever the page's customer token names (``metadata.customer_token``, a JWT
   the shop's backend put in the page; see ``personalization.auth.tokens``). An id the page
   claims proves nothing and is dropped.
4. Only the page's own origin, and those configured in RASA_CORS_ORIGINS, may open a socket.
5. The door's checks (``channels.doors``): a packet over MAX_REQUEST_BODY_BYTES closes the
   socket, a malformed message or a session the socket was not given gets an ``input_error``
   event with the reason, a message over MAX_MESSAGE_CHARS a polite bot answer, and a failure
   inside Rasa the trouble reply; none of them reaches Rasa's parser, and none is silent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from channels import doors, parsing
from channels.identity import ChannelIdentity
from channels.origins import allowed_origins
from personalization.settings import InputLimits

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[0-9a-f]{32}\Z")
MAX_MESSAGE_CHARS = InputLimits().max_message_chars  # the default; MAX_MESSAGE_CHARS sets it
PREFIX = "web:"
INPUT_ERROR_EVT = "input_error"


class SessionIds:
    """Session ids only this server can have issued: 16 random hex digits and 16 of their MAC
    under IDENTITY_KEY. A page may resume its own session after a reload, but a made-up id is
    replaced by a new one, and a socket may speak only in the session it was confirmed in."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._key, f"web-session:{nonce}".encode(), hashlib.sha256).hexdigest()[:16]

    def new(self, nonce: str | None = None) -> str:
        nonce = nonce or secrets.token_hex(8)
        return nonce + self._mac(nonce)

    def issued(self, session_id: object) -> bool:
        if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            return False
        return hmac.compare_digest(session_id[16:], self._mac(session_id[:16]))


def client_address(environ: dict | None, sid: str) -> str:
    """The peer's address from the request that opened the socket (engine.io's own
    REMOTE_ADDR is a constant under Sanic)."""
    request = (environ or {}).get("sanic.request")
    address = getattr(request, "remote_addr", None) or getattr(request, "ip", None)
    return str(address or sid)


def token_of(metadata: Any) -> Any:
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except (ValueError, RecursionError):
            return None
    return metadata.get("customer_token") if isinstance(metadata, dict) else None


class SocketIOChannel(SocketIOInput):
    identity: ChannelIdentity | None = None

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SocketIOChannel:
        channel = super().from_credentials(credentials)
        assert isinstance(channel, SocketIOChannel)
        channel.identity = ChannelIdentity.from_env("web")
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        parsing.install()
        sio = self.sio
        assert sio is not None
        # Rasa turns python-socketio's origin check off; this puts it back, with our list.
        sio.eio.cors_allowed_origins = allowed_origins()
        limits = InputLimits.from_env()
        # engine.io's own limit is 1 MB a packet; a larger packet closes the socket.
        sio.eio.max_http_buffer_size = limits.max_body_bytes
        identity = self.identity or ChannelIdentity.from_env("web")
        handle = doors.guarded(on_new_message, "web", limits)

        async def refuse(sid: str, reason: str, detail: str) -> None:
            doors.refused("web", reason)
            await sio.emit(INPUT_ERROR_EVT, {"reason": detail}, room=sid)

        sessions = SessionIds(identity.settings.binding_key)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if sessions.issued(requested) else sessions.new()
            await sio.save_session(sid, {"session_id": session_id}, namespace=self.namespace)
            if self.session_persistence:
                await sio.enter_room(sid, PREFIX + session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            if not isinstance(data, dict):
                await refuse(sid, "bad_request", "a message must be a JSON object")
                return
            if self.session_persistence:
                session_id = data.get("session_id")
                confirmed = (await sio.get_session(sid, namespace=self.namespace)).get("session_id")
                if not isinstance(session_id, str) or session_id != confirmed:
                    log.warning(
                        "ignored a web chat message for a session this socket was not given"
                    )
                    await refuse(
                        sid,
                        "bad_sender",
                        "`session_id` must be the session this connection was confirmed in; "
                        "send session_request first",
                    )
                    return
                sender_id = PREFIX + session_id
            else:
                session_id = sid
                sender_id = PREFIX + sid
            message = data.get("message")
            if not isinstance(message, str):
                await refuse(sid, "bad_request", "`message` must be a string")
                return
            sent = data.get(self.metadata_key)
            address = client_address(sio.get_environ(sid, namespace=self.namespace), sid)
            await handle(
                UserMessage(
                    message,
                    SocketIOOutput(sio, self.bot_message_evt),
                    sender_id,
                    input_channel=self.name(),
                    metadata=identity.metadata(
                        sent,
                        channel="web",
                        client=session_id,
                        address=address,
                        token=token_of(sent),
                    ),
                )
            )

        return blueprint
