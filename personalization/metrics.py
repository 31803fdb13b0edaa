"""Process-local Prometheus metrics of the bot's processes.

Each server process (Rasa, action server, worker) holds its own counters in the default
registry; the Rasa and action servers expose them at ``/metrics`` behind their token guards.
Definitions live here, in one place, so a name is never registered twice and an operator
finds every metric the bot exports in one file. Labels never carry customer data (no sender
ids, no text): only small fixed vocabularies such as a channel or a reason.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, generate_latest
from prometheus_client.registry import CollectorRegistry

__all__ = [
    "CONTENT_TYPE",
    "EVENTS_DEAD_LETTERED",
    "EVENTS_OVERFLOWED",
    "EVENTS_WRITTEN",
    "EVENT_SPOOL_EVENTS",
    "MESSAGES_FAILED",
    "MESSAGES_REFUSED",
    "PROCESS_RESTARTS",
    "STORE_CALLS",
    "exposition",
]

#: The Content-Type of the Prometheus text exposition format served at ``/metrics``.
CONTENT_TYPE: str = CONTENT_TYPE_LATEST


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    """Return every metric of ``registry`` in the Prometheus text format, for ``/metrics``."""
    return generate_latest(registry)


# --- Input limits -------------------------------------------------------------------------

MESSAGES_REFUSED = Counter(
    "shopbot_messages_refused_total",
    "Customer messages refused before parsing (too long, bad sender id, ...).",
    ["channel", "reason"],
)

# --- Event pipeline -----------------------------------------------------------------------

EVENT_SPOOL_EVENTS = Gauge(
    "shopbot_event_spool_events",
    "Events waiting in the broker's durable spool to be written to PostgreSQL.",
)
EVENTS_WRITTEN = Counter(
    "shopbot_events_written_total",
    "Events the broker wrote to the events table.",
)
EVENTS_DEAD_LETTERED = Counter(
    "shopbot_events_dead_lettered_total",
    "Events the broker could not write and set aside in the dead-letter table.",
)
EVENTS_OVERFLOWED = Counter(
    "shopbot_events_overflowed_total",
    "Events the broker could not even spool because its bounded spool was full.",
)

# --- Stores -------------------------------------------------------------------------------

STORE_CALLS = Counter(
    "shopbot_store_calls_total",
    "Calls to the personalization stores by operation and outcome (ok, unavailable, refused).",
    ["operation", "outcome"],
)

# --- Supervision --------------------------------------------------------------------------

PROCESS_RESTARTS = Counter(
    "shopbot_process_restarts_total",
    "Restarts by the stack runner of a managed process or embedded server after it died.",
    ["process"],
)

# --- Channels -----------------------------------------------------------------------------

MESSAGES_FAILED = Counter(
    "shopbot_messages_failed_total",
    "Customer messages Rasa failed to handle (lock store, tracker store, other), answered "
    "with the trouble reply instead of silence.",
    ["channel", "error"],
)
