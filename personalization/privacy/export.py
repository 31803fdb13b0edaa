"""Everything stored about a customer, as plain data: the export, and its short summary."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from personalization.privacy.consent import PrivacyError, audit
from personalization.store import Database

# What an export contains, in order: section name and the query for it.
_EXPORT_SECTIONS: tuple[tuple[str, str], ...] = (
    (
        "profile",
        "SELECT id, display_name, email, country, language, preferences, created_at, "
        "updated_at FROM customers WHERE id = %(id)s",
    ),
    ("consent", "SELECT personalization, updated_at FROM consents WHERE customer_id = %(id)s"),
    (
        "consent_history",
        "SELECT action, source, changed_at FROM consent_audit "
        "WHERE customer_id = %(id)s ORDER BY changed_at",
    ),
    (
        "segment",
        "SELECT segment, r_score, f_score, m_score, recency_days, frequency, monetary, "
        "assigned_at FROM segment_assignments WHERE customer_id = %(id)s",
    ),
    (
        "churn_risk",
        "SELECT risk, factors, model_cutoff::text AS model_cutoff, scored_at FROM churn_scores "
        "WHERE customer_id = %(id)s",
    ),
    (
        "segment_history",
        "SELECT segment, r_score, f_score, m_score, assigned_at "
        "FROM segment_history WHERE customer_id = %(id)s ORDER BY assigned_at",
    ),
    (
        "orders",
        "SELECT o.id, o.ordered_at, o.status, o.total, json_agg(json_build_object("
        "'stock_code', l.stock_code, 'description', p.description, "
        "'quantity', l.quantity, 'unit_price', l.unit_price) ORDER BY l.line_no) AS lines "
        "FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id "
        "LEFT JOIN products p ON p.stock_code = l.stock_code "
        "WHERE o.customer_id = %(id)s GROUP BY o.id ORDER BY o.ordered_at",
    ),
    (
        "identity_proofs",
        "SELECT conversation_id, channel, method, verified_at, expires_at "
        "FROM identity_proofs WHERE customer_id = %(id)s ORDER BY verified_at",
    ),
    (
        "sign_ins",
        "SELECT conversation_id, channel, outcome, attempted_at "
        "FROM sign_in_attempts WHERE customer_id = %(id)s ORDER BY attempted_at",
    ),
    (
        "returns",
        "SELECT invoice_id, stock_code, quantity, unit_price, returned_at, reason "
        "FROM returns WHERE customer_id = %(id)s ORDER BY returned_at",
    ),
    (
        "return_requests",
        "SELECT order_id, stock_code, quantity, refund, status, reason, created_at "
        "FROM return_requests WHERE customer_id = %(id)s ORDER BY created_at",
    ),
    (
        "interactions",
        "SELECT kind, item_id, occurred_at FROM interactions "
        "WHERE customer_id = %(id)s ORDER BY occurred_at",
    ),
    (
        "message_sentiment",
        "SELECT conversation_id, score, label, created_at "
        "FROM message_sentiment WHERE customer_id = %(id)s ORDER BY created_at",
    ),
    (
        "feedback",
        "SELECT conversation_id, kind, value, created_at FROM feedback "
        "WHERE customer_id = %(id)s ORDER BY created_at",
    ),
    (
        "support_tickets",
        "SELECT id, status, priority, reason, summary, created_at "
        "FROM support_tickets WHERE customer_id = %(id)s ORDER BY created_at",
    ),
    (
        "experiments",
        "SELECT a.experiment, e.description, a.arm, a.assigned_at, "
        "(SELECT count(*) FROM experiment_exposures x WHERE x.experiment = a.experiment "
        "AND x.unit_id = a.unit_id) AS conversations "
        "FROM experiment_assignments a JOIN experiments e ON e.name = a.experiment "
        "WHERE a.customer_id = %(id)s ORDER BY a.assigned_at",
    ),
)


_SINGLE_ROW_SECTIONS = {"profile", "consent", "segment", "churn_risk"}


def _readable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_readable(v) for v in value]
    if isinstance(value, dict):
        return {k: _readable(v) for k, v in value.items()}
    return value


def export_customer(db: Database, customer_id: str, source: str = "cli") -> dict[str, Any]:
    """Everything stored about the customer, as plain JSON-ready data; the export is audited."""
    export: dict[str, Any] = {"customer_id": customer_id}
    with db.cursor() as cur:
        cur.execute("SELECT 1 FROM customers WHERE id = %s", (customer_id,))
        if cur.fetchone() is None:
            raise PrivacyError(f"no customer {customer_id}")
        audit(cur, customer_id, "export", source)
        for section, query in _EXPORT_SECTIONS:
            cur.execute(query, {"id": customer_id})
            rows = [_readable(dict(row)) for row in cur.fetchall()]
            single = section in _SINGLE_ROW_SECTIONS
            export[section] = (rows[0] if rows else None) if single else rows
    return export


# What the chat summary counts, with the label the customer reads.
SUMMARY_COUNTS: tuple[tuple[str, str], ...] = (
    ("interactions", "product and article interactions"),
    ("message_sentiment", "message mood scores"),
    ("feedback", "feedback answers"),
    ("support_tickets", "support tickets"),
    ("returns", "returns"),
    ("return_requests", "return requests"),
)


def summarise_customer(
    db: Database, customer_id: str, source: str = "chat", statement_timeout_ms: int = 2000
) -> dict[str, Any]:
    """What the chat shows of an export: a profile, totals and counts, audited as an export.

    Bounded whatever the customer's history: a handful of indexed queries returning one row
    each, under their own statement timeout, so it fits in a chat turn's deadline.
    """
    with db.cursor() as cur:
        cur.execute("SET LOCAL statement_timeout = %s", (int(statement_timeout_ms),))
        cur.execute(_EXPORT_SECTIONS[0][1], {"id": customer_id})
        profile = cur.fetchone()
        if profile is None:
            raise PrivacyError(f"no customer {customer_id}")
        audit(cur, customer_id, "export", source)
        summary: dict[str, Any] = {"customer_id": customer_id, "profile": _readable(dict(profile))}
        for section, query in _EXPORT_SECTIONS[1:]:
            if section in ("consent", "segment"):
                cur.execute(query, {"id": customer_id})
                row = cur.fetchone()
                summary[section] = _readable(dict(row)) if row else None
        cur.execute(
            "SELECT count(*) AS n, coalesce(sum(total), 0)::float AS total, "
            "max(ordered_at) AS last FROM orders WHERE customer_id = %s",
            (customer_id,),
        )
        orders = cur.fetchone()
        summary["orders"] = {
            "count": orders["n"],
            "total": orders["total"],
            "last": orders["last"].date().isoformat() if orders["last"] else None,
        }
        counts = {}
        for table, _ in SUMMARY_COUNTS:
            cur.execute(f"SELECT count(*) AS n FROM {table} WHERE customer_id = %s", (customer_id,))
            counts[table] = cur.fetchone()["n"]
        summary["counts"] = counts
    return summary
