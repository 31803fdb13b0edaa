"""Consent to personalization, and the audit of every data-rights action."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import Json

from personalization.recommender.cache import RecommendationCache
from personalization.store import Database


class PrivacyError(RuntimeError):
    """The request cannot be carried out, e.g. an unknown customer."""


def audit(
    cur: Any, customer_id: str, action: str, source: str, details: dict[str, Any] | None = None
) -> None:
    """One consent-audit entry: who (the pseudonymous id), what, from where, and counts."""
    cur.execute(
        "INSERT INTO consent_audit (customer_id, action, source, details) VALUES (%s, %s, %s, %s)",
        (customer_id, action, source, Json(details) if details is not None else None),
    )


def personalization_allowed(db: Database, customer_id: str) -> bool:
    """Customers are personalised unless they opted out."""
    with db.cursor() as cur:
        cur.execute("SELECT personalization FROM consents WHERE customer_id = %s", (customer_id,))
        row = cur.fetchone()
    return True if row is None else bool(row["personalization"])


def set_personalization(
    db: Database,
    customer_id: str,
    allowed: bool,
    source: str,
    cache: RecommendationCache | None = None,
) -> None:
    """Record an opt-out or opt-in, with an audit entry; the same choice twice is one change.
    An opt-out also drops the customer's cached personal recommendations."""
    with db.cursor() as cur:
        cur.execute("SELECT 1 FROM customers WHERE id = %s", (customer_id,))
        if cur.fetchone() is None:
            raise PrivacyError(f"no customer {customer_id}")
        cur.execute(
            """INSERT INTO consents (customer_id, personalization) VALUES (%s, %s)
               ON CONFLICT (customer_id) DO UPDATE
               SET personalization = EXCLUDED.personalization, updated_at = now()
               WHERE consents.personalization IS DISTINCT FROM EXCLUDED.personalization
               RETURNING 1""",
            (customer_id, allowed),
        )
        if cur.fetchone() is not None:
            audit(cur, customer_id, "opt_in" if allowed else "opt_out", source)
        if not allowed:  # profiling stops with the opt-out; the next refresh skips them
            cur.execute("DELETE FROM churn_scores WHERE customer_id = %s", (customer_id,))
    if not allowed and cache is not None:
        cache.forget_customer(customer_id)
