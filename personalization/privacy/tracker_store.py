"""Where Rasa keeps a conversation in Redis: its tracker and its lock, and how to delete them."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from personalization.settings import ErasureSettings

# A REST conversation opened with a customer's token is `rest:<customer>+<sender>`.
REST_PREFIX = "rest:"


@dataclass(frozen=True)
class ConversationStore:
    """Where Rasa keeps a conversation in Redis: its tracker and its lock.

    Keys are ``<prefix>:tracker:<conversation id>`` and ``<lock prefix>:lock:<conversation
    id>`` (Rasa's Redis tracker and lock stores with a key prefix).
    """

    redis_url: str
    key_prefix: str = "shopbot"
    timeout_s: float = 3.0
    lock_key_prefix: str | None = None

    @classmethod
    def from_env(cls) -> ConversationStore | None:
        settings = ErasureSettings.from_env()
        if not settings.redis_url:
            return None
        return cls(
            settings.redis_url,
            settings.tracker_key_prefix,
            settings.redis_timeout_s,
            settings.lock_key_prefix,
        )

    def key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}:tracker:{conversation_id}"

    def lock_key(self, conversation_id: str) -> str:
        return f"{self.lock_key_prefix or self.key_prefix}:lock:{conversation_id}"

    def delete(self, conversation_ids: set[str], rest_customer: str | None = None) -> int:
        """Delete the conversations' trackers and locks; returns how many keys existed.

        With ``rest_customer``, also every REST conversation of that customer
        (``rest:<customer>+<sender>``) found by a scan, whether or not PostgreSQL knows it.
        """
        if not conversation_ids and rest_customer is None:
            return 0
        client = redis.Redis.from_url(
            self.redis_url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
        )
        try:
            keys = {k for c in conversation_ids for k in (self.key(c), self.lock_key(c))}
            if rest_customer is not None:
                escaped = _redis_pattern(f"{REST_PREFIX}{rest_customer}+")
                for pattern in (self.key(escaped), self.lock_key(escaped)):
                    keys.update(k.decode() for k in client.scan_iter(pattern + "*", count=1000))
            deleted, ordered = 0, sorted(keys)
            for at in range(0, len(ordered), 500):
                deleted += int(client.delete(*ordered[at : at + 500]))
            return deleted
        finally:
            client.close()

    def rewrite_persistence(self) -> bool:
        """Ask Redis to rewrite its append-only file and snapshot, which still hold deleted
        trackers until then; False where the server refuses (a managed Redis may)."""
        client = redis.Redis.from_url(
            self.redis_url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
        )
        try:
            persistence = client.info("persistence")
            if persistence.get("aof_enabled"):
                client.bgrewriteaof()
            client.bgsave()
            return True
        except redis.ResponseError:  # disabled, or one already running: the next sweep's turn
            return False
        finally:
            client.close()


def _redis_pattern(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
