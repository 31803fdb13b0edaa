"""The action server's one door to the personalization store.

`run` executes blocking library work in a worker thread under the action deadline
(`ACTION_IO_TIMEOUT_S`) and always answers with an `Outcome`: ok, refused (the store answered
no) or unavailable (down, too slow, misconfigured). Work that outlives the deadline is
cancelled: its statements are interrupted and nothing of it commits, so "unavailable" is the
truth. Actions use it through the typed gateways in `actions.gateways`, never directly.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import redis

from actions.outcome import Outcome
from personalization.embeddings import EncoderUnavailable, loaded_encoder, shared_encoder
from personalization.metrics import STORE_CALLS
from personalization.privacy import ConversationStore, PrivacyError
from personalization.recommender.articles import ArticleRecommender
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.service import RecommendationService
from personalization.settings import (
    ActionDeadlineSettings,
    ConfigurationError,
    DatabaseSettings,
    RedisSettings,
)
from personalization.store.db import Database, StoreUnavailable, WorkCancelled, cancel_scope
from personalization.support.feedback import FeedbackError
from personalization.support.order_finder import OrderFinder

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_DEADLINE_S = ActionDeadlineSettings.io_timeout_s
# After the deadline, how long to wait for work whose commit was already under way, so the
# customer hears what really happened rather than a failure that did not happen.
COMMIT_GRACE_S = 1.0
# The store answered, and the answer is no: the customer's answer, not our outage.
REFUSALS: tuple[type[BaseException], ...] = (PrivacyError, FeedbackError)
# The store did not answer (down, too slow, cancelled at the deadline, misconfigured).
OUTAGES: tuple[type[BaseException], ...] = (
    StoreUnavailable,
    psycopg2.Error,
    redis.RedisError,
    EncoderUnavailable,
    TimeoutError,
    ConnectionError,
)

_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_database: Database | None = None
_database_lock = threading.Lock()
_services: dict[str, object] = {}
_services_lock = threading.Lock()


def io_timeout_s() -> float:
    """The action deadline; the default when the setting is unreadable (said in the log)."""
    try:
        return ActionDeadlineSettings.from_env().io_timeout_s
    except ConfigurationError as exc:
        log.error("%s; using %.1f s", exc, DEFAULT_DEADLINE_S)
        return DEFAULT_DEADLINE_S


def database() -> Database:
    """The process-wide pool; each call still borrows its own connection.

    Raises ConfigurationError when DATABASE_URL is missing or the database timeouts are not
    shorter than the action deadline.
    """
    global _database
    with _database_lock:
        if _database is None:
            settings = DatabaseSettings.from_env()
            ActionDeadlineSettings.from_env().check(database=settings)
            _database = Database(settings)
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
    _order_finders.clear()


def _service(name: str, build: Callable[[], T]) -> T:
    with _services_lock:
        if name not in _services:
            _services[name] = build()
        return _services[name]  # type: ignore[return-value]


def recommendations() -> RecommendationService:
    """One service per process: it keeps the loaded model and popularity lists warm."""
    return _service(
        "recommendations",
        lambda: RecommendationService(database(), ModelRegistry.from_env(), recommendation_cache()),
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


_order_finders: dict[bool, OrderFinder] = {}


def order_finder() -> OrderFinder:
    """Orders named by their items: by words, and also by meaning once MiniLM is loaded.

    The encoder is the one the help articles use, loaded by the warm-up; an order look-up
    never loads it itself, since that takes longer than the action deadline.
    """
    encoder = loaded_encoder()
    finder = _order_finders.get(encoder is not None)
    if finder is None:
        fresh = OrderFinder(encoder.encode if encoder is not None else None)
        finder = _order_finders.setdefault(encoder is not None, fresh)
    return finder


def conversation_store() -> ConversationStore | None:
    return ConversationStore.from_env()


def recommendation_cache() -> RecommendationCache | None:
    """The Redis cache of recommendations, its client timeouts checked against the deadline."""
    settings = RedisSettings.from_env()
    ActionDeadlineSettings.from_env().check(redis=settings)
    return RecommendationCache.from_settings(settings)


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


async def run(operation: str, work: Callable[[], T]) -> Outcome[T]:
    """Run blocking library work under the action deadline; never raises.

    ``operation`` names the call in logs and metrics: a fixed phrase, never customer data.
    The work runs in a worker thread inside a fresh cancel scope (the thread gets a copy of
    this context, hence the same scope). At the deadline the scope is cancelled: nothing in it
    commits any more and its running statements are interrupted. If a commit was already
    under way, the real result is awaited a moment longer and reported as it is.
    """
    deadline = io_timeout_s()
    with cancel_scope() as scope:
        task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        done, _ = await asyncio.wait({task}, timeout=deadline)
        if not done:
            changed = scope.cancel()
            asyncio.get_running_loop().run_in_executor(None, scope.interrupt)
            if changed:
                done, _ = await asyncio.wait({task}, timeout=COMMIT_GRACE_S)
            if not done:
                task.add_done_callback(_forget)
                log.warning("personalization %s timed out after %.1fs", operation, deadline)
                return _counted(operation, Outcome.unavailable("timed out"))
    except asyncio.CancelledError:  # the action itself was cancelled: so is its work
        scope.cancel()
        asyncio.get_running_loop().run_in_executor(None, scope.interrupt)
        task.add_done_callback(_forget)
        raise
    return _counted(operation, _outcome_of(operation, task, deadline))


def _outcome_of(operation: str, task: asyncio.Future[T], deadline: float) -> Outcome[T]:
    try:
        return Outcome.success(task.result())
    except WorkCancelled:
        log.warning("personalization %s timed out after %.1fs", operation, deadline)
        return Outcome.unavailable("timed out")
    except REFUSALS as exc:
        return Outcome.refused(type(exc).__name__)
    except ConfigurationError as exc:  # its message names a setting, never a customer
        log.error("personalization %s is misconfigured: %s", operation, exc)
        return Outcome.unavailable("ConfigurationError")
    except OUTAGES as exc:
        log.warning("personalization %s failed (%s)", operation, type(exc).__name__)
        return Outcome.unavailable(type(exc).__name__)
    except Exception as exc:  # the customer must never see a traceback
        # Where it failed, but not its message or traceback: those can hold customer data.
        log.error(
            "personalization %s failed unexpectedly (%s at %s)",
            operation,
            type(exc).__name__,
            _where(exc),
        )
        return Outcome.unavailable(type(exc).__name__)


def _where(exc: BaseException) -> str:
    """The innermost frame that raised, as file:line in function."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


def _counted(operation: str, outcome: Outcome[T]) -> Outcome[T]:
    STORE_CALLS.labels(operation=operation, outcome=outcome.status.value).inc()
    return outcome


def _forget(task: asyncio.Future[Any]) -> None:
    """Collect the result of work given up on, so it is not reported as never retrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.info("abandoned store work ended with %s", type(task.exception()).__name__)


def is_valid_customer_id(value: object) -> bool:
    return isinstance(value, str) and bool(_CUSTOMER_ID.match(value))
