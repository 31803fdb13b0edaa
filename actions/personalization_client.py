"""The action server's one door to the personalization store.

Every call runs the blocking library code in a worker thread with a deadline, and turns any
failure of the store into a logged warning and a neutral result, so a conversation degrades to
non-personalized answers instead of breaking when PostgreSQL is slow or down.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Callable
from typing import TypeVar

import psycopg2

from personalization.profile import CustomerContext, ProfileReader
from personalization.settings import ConfigurationError
from personalization.store import Database, StoreUnavailable
from personalization.store.customers import Customer, CustomerRepository

log = logging.getLogger(__name__)

T = TypeVar("T")

_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_database: Database | None = None
_database_lock = threading.Lock()


def io_timeout_s() -> float:
    try:
        return float(os.environ.get("ACTION_IO_TIMEOUT_S", "2.5"))
    except ValueError:
        return 2.5


def database() -> Database:
    """The process-wide pool; each call still borrows its own connection."""
    global _database
    with _database_lock:
        if _database is None:
            _database = Database.from_env()
        return _database


def reset() -> None:
    """Forget the pool, e.g. after DATABASE_URL changed (tests, reconfiguration)."""
    global _database
    with _database_lock:
        if _database is not None:
            _database.close()
        _database = None


async def _call(operation: str, work: Callable[[], T], fallback: T) -> T:
    try:
        return await asyncio.wait_for(asyncio.to_thread(work), timeout=io_timeout_s())
    except asyncio.TimeoutError:
        log.warning(
            "personalization %s timed out after %.1fs; answering without it",
            operation,
            io_timeout_s(),
        )
    except (StoreUnavailable, ConfigurationError, psycopg2.Error) as exc:
        log.warning(
            "personalization %s failed (%s); answering without it", operation, type(exc).__name__
        )
    return fallback


def is_valid_customer_id(value: object) -> bool:
    return isinstance(value, str) and bool(_CUSTOMER_ID.match(value))


async def fetch_customer(customer_id: str) -> Customer | None:
    if not is_valid_customer_id(customer_id):
        return None
    return await _call(
        "profile lookup", lambda: CustomerRepository(database()).get(customer_id), None
    )


async def fetch_context(customer_id: str) -> CustomerContext | None:
    """Profile, segment, tier, consent, tone and open orders; None if unknown or unavailable."""
    if not is_valid_customer_id(customer_id):
        return None
    return await _call(
        "profile lookup", lambda: ProfileReader(database()).context(customer_id), None
    )
