"""What the insights page shows, read from PostgreSQL as plain rows.

Every query covers one period (`since`) and returns counts and rates, never a customer id or
a customer's words, except the messages the bot did not understand, which a bot designer
needs: those only with their digits masked and once several conversations sent them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scipy import stats

from personalization.store import Database

FALLBACK_INTENT = "nlu_fallback"
#: A message not understood is shown only once this many conversations sent it.
MIN_CONVERSATIONS = 3

_USER_EVENTS = """
    SELECT sender_id, event_time(data) AS at, event_json(data) AS body
    FROM events
    WHERE event_time(data) >= %(since)s
"""


@dataclass(frozen=True)
class Posterior:
    segment: str
    style: str
    successes: int
    failures: int

    @property
    def mean(self) -> float:
        return (1 + self.successes) / (2 + self.successes + self.failures)

    @property
    def interval(self) -> tuple[float, float]:
        """The central 95% of Beta(1 + successes, 1 + failures)."""
        a, b = 1 + self.successes, 1 + self.failures
        return float(stats.beta.ppf(0.025, a, b)), float(stats.beta.ppf(0.975, a, b))


class InsightsRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self._db.cursor() as cur:
            cur.execute(sql, params)
            return [dict(r) for r in cur.fetchall()]

    # --- conversations and understanding ---------------------------------------------------

    def conversations_per_day(self, since: datetime) -> list[dict[str, Any]]:
        return self._rows(
            f"""SELECT date_trunc('day', at)::date AS day,
                       coalesce(body ->> 'input_channel', 'unknown') AS channel,
                       count(DISTINCT sender_id) AS conversations
                FROM ({_USER_EVENTS}) e WHERE body ->> 'event' = 'user'
                GROUP BY 1, 2 ORDER BY 1, 2""",
            since=since,
        )

    def fallbacks_per_day(self, since: datetime) -> list[dict[str, Any]]:
        """Typed messages (not button presses) and how many the bot did not understand."""
        return self._rows(
            f"""SELECT date_trunc('day', at)::date AS day, count(*) AS messages,
                       count(*) FILTER (WHERE body -> 'parse_data' -> 'intent' ->> 'name'
                                        = %(fallback)s) AS fallbacks
                FROM ({_USER_EVENTS}) e
                WHERE body ->> 'event' = 'user' AND coalesce(body ->> 'text', '') NOT LIKE '/%%'
                GROUP BY 1 ORDER BY 1""",
            since=since,
            fallback=FALLBACK_INTENT,
        )

    def not_understood(self, since: datetime, limit: int = 20) -> list[dict[str, Any]]:
        """The most frequent messages the bot did not understand, with its best guess.

        Digits are replaced by "#" (an order or customer number typed at the sign-in stays
        readable in storage, which masks only e-mail addresses and long numbers), and a
        message is shown only once it came from `MIN_CONVERSATIONS` different conversations:
        what one customer typed about themselves, a name or an address, never is.
        """
        return self._rows(
            f"""SELECT text, count(*) AS times, count(DISTINCT sender_id) AS conversations,
                       mode() WITHIN GROUP (ORDER BY guess) AS guess,
                       round(avg(guess_confidence)::numeric, 2)::float AS guess_confidence
                FROM (SELECT sender_id,
                             regexp_replace(lower(btrim(body ->> 'text')), '[0-9]+', '#', 'g')
                                 AS text,
                             (SELECT r ->> 'name' FROM jsonb_array_elements(
                                  coalesce(body -> 'parse_data' -> 'intent_ranking', '[]'))
                                  AS r WHERE r ->> 'name' <> %(fallback)s LIMIT 1) AS guess,
                             (SELECT (r ->> 'confidence')::float FROM jsonb_array_elements(
                                  coalesce(body -> 'parse_data' -> 'intent_ranking', '[]'))
                                  AS r WHERE r ->> 'name' <> %(fallback)s LIMIT 1)
                                  AS guess_confidence
                      FROM ({_USER_EVENTS}) e
                      WHERE body ->> 'event' = 'user'
                        AND body -> 'parse_data' -> 'intent' ->> 'name' = %(fallback)s
                        AND coalesce(btrim(body ->> 'text'), '') <> ''
                        AND body ->> 'text' NOT LIKE '/%%') f
                GROUP BY 1
                HAVING count(DISTINCT sender_id) >= %(min_conversations)s
                ORDER BY 2 DESC, 1 LIMIT %(limit)s""",
            since=since,
            fallback=FALLBACK_INTENT,
            limit=limit,
            min_conversations=MIN_CONVERSATIONS,
        )

    # --- mood and escalations --------------------------------------------------------------

    def moods(self, since: datetime) -> list[dict[str, Any]]:
        return self._rows(
            """SELECT label, count(*) AS messages FROM message_sentiment
               WHERE created_at >= %(since)s GROUP BY 1 ORDER BY 1""",
            since=since,
        )

    def escalations(self, since: datetime) -> list[dict[str, Any]]:
        return self._rows(
            """SELECT reason, priority, count(*) AS tickets FROM support_tickets
               WHERE created_at >= %(since)s GROUP BY 1, 2 ORDER BY 3 DESC, 1""",
            since=since,
        )

    # --- feedback ----------------------------------------------------------------------------

    def feedback_by(self, since: datetime, dimension: str) -> list[dict[str, Any]]:
        """CSAT and thumbs-up rate by segment, response style or experiment arm."""
        groups = {
            "segment": ("coalesce(s.segment, 'anonymous')", ""),
            "style": ("coalesce(f.response_style, 'generic')", ""),
            "arm": (
                "x.experiment || ': ' || x.arm",
                "JOIN experiment_exposures x ON x.conversation_id = f.conversation_id",
            ),
        }
        group, join = groups[dimension]
        return self._rows(
            f"""SELECT {group} AS grp,
                       avg(f.value) FILTER (WHERE f.kind = 'csat')::float AS csat,
                       count(*) FILTER (WHERE f.kind = 'csat') AS csat_n,
                       stddev_samp(f.value) FILTER (WHERE f.kind = 'csat')::float AS csat_sd,
                       avg((f.value > 0)::int) FILTER (WHERE f.kind = 'thumbs')::float
                           AS thumbs_up,
                       count(*) FILTER (WHERE f.kind = 'thumbs' AND f.value > 0) AS thumbs_up_n,
                       count(*) FILTER (WHERE f.kind = 'thumbs') AS thumbs_n
                FROM feedback f
                LEFT JOIN segment_assignments s ON s.customer_id = f.customer_id
                {join}
                WHERE f.created_at >= %(since)s
                GROUP BY 1 ORDER BY 1""",
            since=since,
        )

    # --- recommendations --------------------------------------------------------------------

    def click_through_by(self, since: datetime, dimension: str) -> list[dict[str, Any]]:
        """Products shown and clicked, by the customer's segment or the reason shown."""
        group = {
            "segment": "coalesce(seg.segment, 'no segment')",
            "reason": "shown.reason",
        }[dimension]
        return self._rows(
            f"""WITH shown AS (
                    SELECT DISTINCT customer_id, item_id, context ->> 'conversation_id' AS conv,
                           coalesce(context ->> 'reason', 'not recorded') AS reason
                    FROM interactions
                    WHERE kind = 'recommendation_shown' AND occurred_at >= %(since)s),
                clicked AS (
                    SELECT DISTINCT customer_id, item_id, context ->> 'conversation_id' AS conv
                    FROM interactions
                    WHERE kind = 'recommendation_clicked' AND occurred_at >= %(since)s)
                SELECT {group} AS grp, count(*) AS shown, count(clicked.item_id) AS clicked
                FROM shown
                LEFT JOIN clicked USING (customer_id, item_id, conv)
                LEFT JOIN segment_assignments seg ON seg.customer_id = shown.customer_id
                GROUP BY 1 ORDER BY 1""",
            since=since,
        )

    # --- the style bandit -------------------------------------------------------------------

    def bandit_posteriors(self) -> list[Posterior]:
        return [
            Posterior(r["segment"], r["arm"], r["successes"], r["failures"])
            for r in self._rows(
                "SELECT segment, arm, successes, failures FROM style_bandit_arms ORDER BY 1, 2"
            )
        ]

    # --- fairness ---------------------------------------------------------------------------

    def conversations_of_customers(self, since: datetime) -> list[dict[str, Any]]:
        """One row per conversation with a known customer: who (for the audit to count each
        customer once; never shown), their country and segment, whether products were shown,
        whether it was handed off, and its CSAT."""
        return self._rows(
            """SELECT cc.customer_id, coalesce(c.country, 'unknown') AS country,
                      coalesce(s.segment, 'no segment') AS segment,
                      EXISTS (SELECT 1 FROM interactions i
                              WHERE i.kind = 'recommendation_shown'
                                AND i.context ->> 'conversation_id' = cc.conversation_id)
                          AS exposed,
                      EXISTS (SELECT 1 FROM support_tickets t
                              WHERE t.conversation_id = cc.conversation_id) AS handed_off,
                      (SELECT avg(value)::float FROM feedback f
                       WHERE f.conversation_id = cc.conversation_id AND f.kind = 'csat') AS csat
               FROM customer_conversations cc
               JOIN customers c ON c.id = cc.customer_id
               LEFT JOIN segment_assignments s ON s.customer_id = cc.customer_id
               WHERE coalesce(cc.last_seen, cc.first_seen) >= %(since)s""",
            since=since,
        )

    # --- data quality -----------------------------------------------------------------------

    def last_import(self) -> dict[str, Any] | None:
        rows = self._rows(
            """SELECT source, finished_at, rows_read, rows_imported, rejected, missing_fields
               FROM import_runs ORDER BY finished_at DESC, id DESC LIMIT 1"""
        )
        return rows[0] if rows else None

    def missing_profile_fields(self) -> dict[str, float]:
        """Share of stored customers and products without each optional field."""
        rows = self._rows(
            """SELECT (SELECT avg((country IS NULL OR country = '')::int) FROM customers)::float
                          AS customer_country,
                      (SELECT avg((display_name IS NULL)::int) FROM customers)::float
                          AS customer_name,
                      (SELECT avg((email IS NULL)::int) FROM customers)::float AS customer_email,
                      (SELECT avg((category IS NULL OR category = '')::int) FROM products)::float
                          AS product_category"""
        )
        return {k: v for k, v in rows[0].items() if v is not None}
