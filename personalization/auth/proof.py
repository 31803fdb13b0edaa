"""The identity of one message, as a channel vouches for it, and the proof kept on a conversation.

A channel writes a :class:`MessageIdentity` into every message's metadata under ``identity``,
after throwing away whatever the client sent under that key. It names the channel, an opaque
key of the client (a hash, so no address or Slack user id is stored in the clear), and the
customer if the channel verified one (a token, Slack's verified email).

The conversation keeps an :class:`IdentityProof` (the ``identity_proof`` slot): who, how,
when, until when, and from which client. It holds for a message only if that message came
through the same channel from the same client, or carries its own proof of the same
customer. So a REST caller who guesses a conversation id, whose sender id is chosen by the
caller, does not inherit the identity of the customer who signed in there.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from personalization.auth.tokens import CUSTOMER_ID

METADATA_KEY = "identity"
CHANNELS = ("rest", "web", "slack")
METHODS = ("token", "slack_email", "sign_in")


def opaque(key: bytes, value: str) -> str:  # key: IDENTITY_KEY
    """A stable, non-reversible key for a client address or user id."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


@dataclass(frozen=True)
class MessageIdentity:
    """What a channel knows about the sender of one message."""

    channel: str
    client: str
    address: str
    private: bool = True
    customer_id: str | None = None
    method: str | None = None
    verified_at: float | None = None
    expires_at: float | None = None

    def as_metadata(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_metadata(cls, metadata: Any) -> MessageIdentity | None:
        """The block a channel wrote, or None if it is absent or malformed."""
        if not isinstance(metadata, Mapping):
            return None
        block = metadata.get(METADATA_KEY)
        if not isinstance(block, Mapping):
            return None
        channel, client, address = (_text(block.get(k)) for k in ("channel", "client", "address"))
        if channel not in CHANNELS or client is None or address is None:
            return None
        customer_id, method = _text(block.get("customer_id")), _text(block.get("method"))
        verified = customer_id is not None and CUSTOMER_ID.match(customer_id) and method in METHODS
        return cls(
            channel=channel,
            client=client,
            address=address,
            private=block.get("private") is True,
            customer_id=customer_id if verified else None,
            method=method if verified else None,
            verified_at=_number(block.get("verified_at")) if verified else None,
            expires_at=_number(block.get("expires_at")) if verified else None,
        )


@dataclass(frozen=True)
class IdentityProof:
    """How this conversation came to belong to a customer."""

    customer_id: str
    channel: str
    method: str
    client: str
    verified_at: float
    expires_at: float

    def as_slot(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_slot(cls, value: Any) -> IdentityProof | None:
        if not isinstance(value, Mapping):
            return None
        customer_id, channel, method, client = (
            _text(value.get(k)) for k in ("customer_id", "channel", "method", "client")
        )
        verified_at, expires_at = (
            _number(value.get("verified_at")),
            _number(value.get("expires_at")),
        )
        if (
            customer_id is None
            or not CUSTOMER_ID.match(customer_id)
            or channel not in CHANNELS
            or method not in METHODS
            or client is None
            or verified_at is None
            or expires_at is None
        ):
            return None
        return cls(customer_id, channel, method, client, verified_at, expires_at)

    @classmethod
    def from_message(cls, message: MessageIdentity, ttl_s: float) -> IdentityProof | None:
        """The proof a channel verified for this message, if any.

        It holds for the conversation's lifetime, capped at ``ttl_s``: a token is checked when
        it is presented, like a sign-in, and need not outlive the chat.
        """
        if message.customer_id is None or message.method is None:
            return None
        verified_at = message.verified_at or time.time()
        return cls(
            customer_id=message.customer_id,
            channel=message.channel,
            method=message.method,
            client=message.client,
            verified_at=verified_at,
            expires_at=verified_at + ttl_s,
        )

    @classmethod
    def signed_in(cls, customer_id: str, message: MessageIdentity, ttl_s: float) -> IdentityProof:
        now = time.time()
        return cls(customer_id, message.channel, "sign_in", message.client, now, now + ttl_s)

    def holds_for(self, message: MessageIdentity | None, now: float | None = None) -> bool:
        """Whether this proof covers ``message``: same channel, and the message's own proof of
        the same customer, or (still valid) the same client proving no one else."""
        if message is None or message.channel != self.channel:
            return False
        if message.customer_id == self.customer_id:
            return True
        if message.customer_id is not None:
            return False  # the client now proves someone else: the old proof is not theirs
        if (time.time() if now is None else now) >= self.expires_at:
            return False
        if self.channel == "rest" and self.method == "token":
            return False  # a REST client's key is only its address: each message shows the token
        return hmac.compare_digest(message.client, self.client)
