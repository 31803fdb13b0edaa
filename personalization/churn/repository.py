"""Stored churn scores: one row per customer, replaced whole by each refresh."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import psycopg2.extras

from personalization.store import Database


class ChurnScores:
    def __init__(self, db: Database) -> None:
        self._db = db

    def replace_all(
        self,
        rows: list[tuple[str, float, list[dict[str, Any]]]],
        model_cutoff: date,
        scored_at: datetime,
    ) -> int:
        """Every customer's (id, risk, factors); customers no longer scored lose their row,
        and those who withheld personalization get none: a risk is profiling."""
        with self._db.cursor() as cur:
            cur.execute("DELETE FROM churn_scores")
            psycopg2.extras.execute_values(
                cur,
                """INSERT INTO churn_scores (customer_id, risk, factors, model_cutoff, scored_at)
                   SELECT v.customer_id, v.risk, v.factors::jsonb, v.cutoff::date,
                          v.scored::timestamptz
                   FROM (VALUES %s) AS v (customer_id, risk, factors, cutoff, scored)
                   JOIN customers c ON c.id = v.customer_id
                   LEFT JOIN consents k ON k.customer_id = v.customer_id
                   WHERE coalesce(k.personalization, true)""",
                [
                    (customer, round(float(risk), 4), json.dumps(factors), model_cutoff, scored_at)
                    for customer, risk, factors in rows
                ],
                page_size=1000,
            )
        return self.count()

    def count(self) -> int:
        with self._db.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM churn_scores")
            return int(cur.fetchone()["n"])

    def for_customer(self, customer_id: str) -> dict[str, Any] | None:
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT risk, factors, model_cutoff, scored_at FROM churn_scores
                   WHERE customer_id = %s""",
                (customer_id,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return {
            "risk": round(float(row["risk"]), 4),
            "factors": row["factors"],
            "model_cutoff": row["model_cutoff"].isoformat(),
            "scored_at": row["scored_at"].isoformat(),
        }
