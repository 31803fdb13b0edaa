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

from personalization.embeddings import EncoderUnavailable, shared_encoder
from personalization.privacy import ConversationStore
from personalization.profile import CustomerContext, ProfileReader
from personalization.recommender.articles import ArticleRecommender
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.service import RecommendationService
from personalization.settings import ConfigurationError
from personalization.store import Database, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_database: Database | None = None
_database_lock = threading.Lock()
_services: dict[str, object] = {}
_services_lock = threading.Lock()


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
    """Forget the pool and services, e.g. after DATABASE_URL changed (tests, reconfiguration)."""
    global _database
    with _database_lock:
        if _database is not None:
            _database.close()
        _database = None
    with _services_lock:
        _services.clear()


def _service(name: str, build: Callable[[], T]) -> T:
    with _services_lock:
        if name not in _services:
            _services[name] = build()
        return _services[name]  # type: ignore[return-value]


def recommendations() -> RecommendationService:
    """One service per process: it keeps the loaded model and popularity lists warm."""
    return _service(
        "recommendations",
        lambda: RecommendationService(
            database(), ModelRegistry.from_env(), RecommendationCache.from_env()
        ),
    )


def articles() -> ArticleRecommender:
    """Help-article matching with MiniLM when its weights are installed, else words alone."""

    def build() -> ArticleRecommender:
        try:
            encoder = shared_encoder()
        except EncoderUnavailable as exc:
            log.warning("sentence encoder unavailable (%s); matching articles by words", exc)
            encoder = None
        return ArticleRecommender(database(), encoder)

    return _service("articles", build)


def conversation_store() -> ConversationStore | None:
    return ConversationStore.from_env()


def recommendation_cache() -> RecommendationCache | None:
    return RecommendationCache.from_env()


def warm_up_now() -> None:
    """Load the recommender and the article index (seconds: MiniLM and LightFM weights)."""
    try:
        recommendations().recommend("warm-up", 1)
        articles().recommend("warm up", None, n=1)
    except Exception as exc:  # a cold start must not stop the server
        log.warning("warm-up failed (%s); the first answers may be generic", type(exc).__name__)


def warm_up() -> None:
    """Warm up in the background, so the first customer's question is not the slow one."""
    threading.Thread(target=warm_up_now, name="warm-up", daemon=True).start()


async def call(operation: str, work: Callable[[], T], fallback: T) -> T:
    """Run blocking library work with a deadline; any failure is logged and becomes `fallback`."""
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
    except Exception as exc:  # the customer must never see a traceback
        log.error(
            "personalization %s failed unexpectedly (%s); answering without it",
            operation,
            type(exc).__name__,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
    return fallback


def is_valid_customer_id(value: object) -> bool:
    return isinstance(value, str) and bool(_CUSTOMER_ID.match(value))


async def fetch_context(customer_id: str) -> CustomerContext | None:
    """Profile, segment, tier, consent, tone and open orders; None if unknown or unavailable."""
    if not is_valid_customer_id(customer_id):
        return None
    return await call(
        "profile lookup", lambda: ProfileReader(database()).context(customer_id), None
    )
