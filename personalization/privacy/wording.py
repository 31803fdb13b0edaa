"""The export and its summary in words a customer reads in the chat."""

from __future__ import annotations

from typing import Any

from personalization.privacy.export import SUMMARY_COUNTS


def readable_export(export: dict[str, Any]) -> str:
    """A few plain lines a customer can read in a chat, from a full export."""
    orders = export.get("orders") or []
    summary = {
        **export,
        "orders": {
            "count": len(orders),
            "total": sum(float(o.get("total") or 0) for o in orders),
            "last": max(str(o.get("ordered_at", ""))[:10] for o in orders) if orders else None,
        },
        "counts": {table: len(export.get(table) or []) for table, _ in SUMMARY_COUNTS},
    }
    return readable_summary(summary)


def readable_summary(summary: dict[str, Any]) -> str:
    """A few plain lines a customer can read in a chat; the full export is the JSON."""
    profile = summary.get("profile") or {}
    lines = [
        f"Name: {profile.get('display_name') or 'not given'}",
        f"Email: {profile.get('email') or 'not given'}",
        f"Country: {profile.get('country') or 'not given'}",
    ]
    orders = summary.get("orders") or {}
    if orders.get("count"):
        lines.append(
            f"Orders: {orders['count']}, £{orders['total']:.2f} in total, "
            f"the last on {orders['last']}"
        )
    else:
        lines.append("Orders: none")
    segment = summary.get("segment")
    if segment:
        lines.append(
            f"Customer group: {segment['segment']} (from how recently, often and much you buy)"
        )
    consent = summary.get("consent")
    allowed = True if consent is None else bool(consent.get("personalization"))
    lines.append(f"Personalization: {'on' if allowed else 'off'}")
    preferences = profile.get("preferences") or {}
    if preferences:
        lines.append(
            "Preferences: " + ", ".join(f"{k} = {v}" for k, v in sorted(preferences.items()))
        )
    counts = summary.get("counts") or {}
    stored = [f"{counts[t]} {label}" for t, label in SUMMARY_COUNTS if counts.get(t)]
    if stored:
        lines.append("Also stored: " + ", ".join(stored))
    return "\n".join(lines)
