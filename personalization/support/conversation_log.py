"""What the bot remembers about a conversation in PostgreSQL: each message's sentiment.

Only for customers who allow personalization; the text itself is never stored here.
"""

from __future__ import annotations

from personalization.store import Database


class ConversationLog:
    """Each message's sentiment, for customers who allow personalization."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_sentiment(
        self, customer_id: str, conversation_id: str, score: float, label: str
    ) -> None:
        with self._db.cursor() as cur:
            cur.execute(
                """INSERT INTO message_sentiment (customer_id, conversation_id, score, label)
                   SELECT id, %s, %s, %s FROM customers WHERE id = %s""",
                (conversation_id, max(-1.0, min(1.0, score)), label, customer_id),
            )
