"""Process-local Prometheus metrics of the bot's processes.

Each server process (Rasa, action server, worker) holds its own counters in the default
registry; the Rasa and action servers expose them at ``/metrics`` behind their token guards.
Definitions live here, in one place, so a name is never registered twice and an operator
finds every metric the bot exports in one file. Labels never carry customer data (no sender
ids, no text): only small fixed vocabularies such as a channel or a reason.
"""

from __future__ import annotations

import threading

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.registry import CollectorRegistry

__all__ = [
    "ACTION_ERRORS",
    "ACTION_SECONDS",
    "CONTENT_TYPE",
    "EVENTS_DEAD_LETTERED",
    "EVENTS_OVERFLOWED",
    "EVENTS_WRITTEN",
    "EVENT_SPOOL_EVENTS",
    "FALLBACKS",
    "HANDOFFS",
    "MESSAGES_FAILED",
    "MESSAGES_REFUSED",
    "MESSAGE_SECONDS",
    "MODEL_VERSION",
    "PROCESS_RESTARTS",
    "RECOMMENDATION_CACHE",
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

MESSAGE_SECONDS = Histogram(
    "shopbot_message_seconds",
    "Time from a customer message reaching the channel's door to the bot's answer being sent.",
    ["channel"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)

# --- Actions (action server) --------------------------------------------------------------

ACTION_SECONDS = Histogram(
    "shopbot_action_seconds",
    "Time the action server spent running each custom action.",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ACTION_ERRORS = Counter(
    "shopbot_action_errors_total",
    "Custom actions that raised instead of answering, by action and error class.",
    ["action", "error"],
)

# --- Conversation outcomes ----------------------------------------------------------------

FALLBACKS = Counter(
    "shopbot_fallbacks_total",
    "Messages the bot did not understand, by stage: first (it asked to rephrase or "
    "confirm), repeated (a second miss: handed to a person), next_step (unsure what to do).",
    ["stage"],
)
HANDOFFS = Counter(
    "shopbot_handoffs_total",
    "Conversations handed to a person, by reason (a fixed word such as late_order).",
    ["reason"],
)

# --- Caches and models --------------------------------------------------------------------

RECOMMENDATION_CACHE = Counter(
    "shopbot_recommendation_cache_total",
    "Lookups of cached recommendations, by result (hit, miss, or unavailable: Redis down).",
    ["result"],
)
MODEL_VERSION = Gauge(
    "shopbot_model_version_info",
    "The model version each process serves (value 1; the version is a label).",
    ["model", "version"],
)


_served_versions: dict[str, str] = {}
_served_lock = threading.Lock()


def serve_model(model: str, version: str | None) -> None:
    """Show ``version`` as the one this process serves for ``model`` (only that one; "none"
    when it serves none)."""
    version = version or "none"
    with _served_lock:
        previous = _served_versions.get(model)
        if previous == version:
            return
        if previous is not None:
            MODEL_VERSION.remove(model, previous)
        MODEL_VERSION.labels(model=model, version=version).set(1)
        _served_versions[model] = version
