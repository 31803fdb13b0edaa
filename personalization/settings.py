"""Settings read from the environment, so that one code path serves laptops, CI and production."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path


class ConfigurationError(RuntimeError):
    """A required setting is missing or malformed."""


# libpq reads any connect timeout under 2 s as 2 s (see `connect_timeout` in its docs).
LIBPQ_MIN_CONNECT_TIMEOUT_S = 2


@dataclass(frozen=True)
class DatabaseSettings:
    """PostgreSQL client limits. Both timeouts stay under the action deadline
    (`ActionDeadlineSettings`), so a dead or slow database is a clear failure inside it."""

    url: str
    connect_timeout_s: int = LIBPQ_MIN_CONNECT_TIMEOUT_S
    statement_timeout_ms: int = 1500
    pool_min: int = 2
    pool_max: int = 8

    @classmethod
    def from_env(cls) -> DatabaseSettings:
        url = os.environ.get("DATABASE_URL", "").strip()
        if not url:
            raise ConfigurationError(
                "DATABASE_URL is not set; run through `make run` or `eval $(make env)`."
            )
        settings = cls(
            url=url,
            connect_timeout_s=_int_env("DB_CONNECT_TIMEOUT_S", LIBPQ_MIN_CONNECT_TIMEOUT_S),
            statement_timeout_ms=_int_env("DB_STATEMENT_TIMEOUT_MS", 1500),
            pool_min=_int_env("DB_POOL_MIN", 2),
            pool_max=_int_env("DB_POOL_MAX", 8),
        )
        if settings.connect_timeout_s < 1:
            raise ConfigurationError("DB_CONNECT_TIMEOUT_S must be at least 1 (0 waits forever)")
        if settings.statement_timeout_ms < 1:
            raise ConfigurationError("DB_STATEMENT_TIMEOUT_MS must be at least 1 (0 waits forever)")
        return settings

    def for_batch(self) -> DatabaseSettings:
        """The same server for the CLI and set-up: imports and training run statements far
        longer than a chat reply may wait (DB_BATCH_STATEMENT_TIMEOUT_MS, default 10 min)."""
        return replace(
            self, statement_timeout_ms=_int_env("DB_BATCH_STATEMENT_TIMEOUT_MS", 600_000)
        )

    @property
    def effective_connect_timeout_s(self) -> float:
        """What libpq really waits for one address: never less than its 2 s floor."""
        return float(max(self.connect_timeout_s, LIBPQ_MIN_CONNECT_TIMEOUT_S))


@dataclass(frozen=True)
class TokenSettings:
    """How customer tokens from the shop's backend are checked (see personalization.auth)."""

    algorithm: str = "HS256"
    secret: str = ""
    public_key_file: str | None = None
    audience: str = "hearth-home-support"
    issuer: str | None = None
    max_lifetime_s: int = 3600
    leeway_s: int = 30

    @classmethod
    def from_env(cls) -> TokenSettings:
        return cls(
            algorithm=os.environ.get("CUSTOMER_TOKEN_ALGORITHM", "").strip() or "HS256",
            secret=os.environ.get("CUSTOMER_TOKEN_SECRET", "").strip(),
            public_key_file=os.environ.get("CUSTOMER_TOKEN_PUBLIC_KEY_FILE", "").strip() or None,
            audience=os.environ.get("CUSTOMER_TOKEN_AUDIENCE", "").strip() or "hearth-home-support",
            issuer=os.environ.get("CUSTOMER_TOKEN_ISSUER", "").strip() or None,
            max_lifetime_s=_int_env("CUSTOMER_TOKEN_MAX_LIFETIME_S", 3600),
            leeway_s=_int_env("CUSTOMER_TOKEN_LEEWAY_S", 30),
        )


@dataclass(frozen=True)
class IdentitySettings:
    """How long a proof of identity holds, and whether the local demo shortcuts are on."""

    proof_ttl_s: int = 2 * 3600
    demo_mode: bool = False
    binding_key: bytes = b""

    @classmethod
    def from_env(cls) -> IdentitySettings:
        key = os.environ.get("IDENTITY_KEY", "").strip()
        if len(key) < 16:
            raise ConfigurationError(
                "IDENTITY_KEY must be a secret of at least 16 characters: it keys the hashes "
                "of sign-in identifiers and client addresses (`make env` creates one)"
            )
        return cls(
            proof_ttl_s=_int_env("IDENTITY_PROOF_TTL_S", 2 * 3600),
            demo_mode=_bool_env("DEMO_MODE"),
            binding_key=key.encode(),
        )


@dataclass(frozen=True)
class SignInSettings:
    """Brute-force limits of the in-chat sign-in, counted across conversations."""

    max_failures_per_identifier: int = 5
    max_failures_per_client: int = 20
    lockout_s: int = 15 * 60

    @classmethod
    def from_env(cls) -> SignInSettings:
        return cls(
            max_failures_per_identifier=_int_env("SIGN_IN_MAX_FAILURES_PER_IDENTIFIER", 5),
            max_failures_per_client=_int_env("SIGN_IN_MAX_FAILURES_PER_CLIENT", 20),
            lockout_s=_int_env("SIGN_IN_LOCKOUT_S", 15 * 60),
        )


@dataclass(frozen=True)
class ActionServerSettings:
    """Who may call the action server, and where it listens."""

    token: str = ""
    listen_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> ActionServerSettings:
        return cls(
            token=os.environ.get("ACTION_SERVER_TOKEN", "").strip(),
            listen_host=os.environ.get("ACTION_LISTEN_HOST", "").strip()
            or os.environ.get("SANIC_HOST", "").strip()
            or "127.0.0.1",
        )


@dataclass(frozen=True)
class RasaServerSettings:
    """Where Rasa listens and whether its HTTP API (trackers, events, models) is open."""

    host: str = "127.0.0.1"
    port: int = 5005
    enable_api: bool = False
    api_token: str = ""
    listen_fd: int | None = None  # a listening socket the runner passes down (RASA_LISTEN_FD)
    # Messages in Rasa's pipeline at once, the rest queued in arrival order
    # (stack/message_admission.py); 0, the default, lets every message in at once, as Rasa
    # does: under a flood that outpaces the server, a queue in arrival order would make a
    # short message wait behind the whole backlog.
    message_concurrency: int = 0

    @classmethod
    def from_env(cls) -> RasaServerSettings:
        token = os.environ.get("RASA_API_TOKEN", "").strip()
        token_file = os.environ.get("RASA_API_TOKEN_FILE", "").strip()
        if not token and token_file:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"RASA_API_TOKEN_FILE cannot be read: {exc.strerror}"
                ) from exc
        return cls(
            host=os.environ.get("RASA_HOST", "").strip() or "127.0.0.1",
            port=_int_env("RASA_PORT", 5005),
            enable_api=_bool_env("RASA_ENABLE_API"),
            api_token=token,
            listen_fd=_int_env("RASA_LISTEN_FD", -1) if os.environ.get("RASA_LISTEN_FD") else None,
            message_concurrency=_message_concurrency(),
        )


def _message_concurrency() -> int:
    value = _int_env("RASA_MESSAGE_CONCURRENCY", 0)
    if value < 0:
        raise ConfigurationError(f"RASA_MESSAGE_CONCURRENCY must be 0 or more, got {value}")
    return value


# --- Places and switches read in one spot, so no other module reads the environment -------


def actions_warm_up() -> bool:
    """ACTIONS_WARM_UP=1 (the stack sets it): load the recommender and MiniLM when the action
    server starts, so the first customer's question is not the slow one."""
    return os.environ.get("ACTIONS_WARM_UP", "").strip() == "1"


def sentence_encoder_dir() -> Path | None:
    """SENTENCE_ENCODER_DIR: MiniLM's files, if not the ones the pip package ships."""
    configured = os.environ.get("SENTENCE_ENCODER_DIR", "").strip()
    return Path(configured) if configured else None


def keep_models_offline() -> None:
    """Tell transformers and the hub client never to download: models load from local files."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pseudonym_key() -> str:
    """PSEUDONYM_KEY: the secret behind imported customers' pseudonymous ids (unchecked)."""
    return os.environ.get("PSEUDONYM_KEY", "")


def help_center_url() -> str:
    """HELP_CENTER_URL: where article links in answers point; empty for none."""
    return os.environ.get("HELP_CENTER_URL", "").strip()


def recommender_dir() -> Path:
    """RECOMMENDER_DIR: the recommender's versions and its `current` link."""
    return Path(os.environ.get("RECOMMENDER_DIR") or Path(".data") / "recommender")


def sentiment_model_path(default: Path) -> Path:
    """SENTIMENT_MODEL_PATH: the trained sentiment model."""
    return Path(os.environ.get("SENTIMENT_MODEL_PATH") or default)


def complaint_model_path(default: Path) -> Path:
    """COMPLAINT_MODEL_PATH: the trained complaint detector."""
    return Path(os.environ.get("COMPLAINT_MODEL_PATH") or default)


@dataclass(frozen=True)
class WebOriginSettings:
    """Where customers reach the Rasa server (RASA_PUBLIC_URL, else RASA_HOST and RASA_PORT),
    and the other origins allowed to call it from a browser (RASA_CORS_ORIGINS)."""

    public_url: str = "http://127.0.0.1:5005"
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> WebOriginSettings:
        configured = os.environ.get("RASA_PUBLIC_URL", "").strip().rstrip("/")
        if not configured:
            host = os.environ.get("RASA_HOST", "127.0.0.1").strip() or "127.0.0.1"
            port = os.environ.get("RASA_PORT", "5005").strip() or "5005"
            configured = f"http://{host}:{port}"
        extra = os.environ.get("RASA_CORS_ORIGINS", "")
        return cls(configured, tuple(o.strip() for o in extra.split(",") if o.strip()))


def shared_datasets_dir() -> Path:
    """The public data sets beside the project; never copied into it."""
    return Path(os.environ.get("SHARED_DATASETS") or Path("..") / "shared" / "datasets")


def _bool_env(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name} must be 1 or 0, got {raw!r}")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc


def _positive_float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigurationError(f"{name} must be greater than 0, got {raw!r}")
    return value


@dataclass(frozen=True)
class SupervisorSettings:
    """How `make run` restarts a process or embedded server that died: after a back-off that
    starts at ``backoff_initial_s`` and doubles up to ``backoff_max_s``, so a crash loop does
    not spin; it resets once the process has stayed up for ``healthy_after_s``."""

    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    healthy_after_s: float = 60.0
    check_interval_s: float = 1.0

    @classmethod
    def from_env(cls) -> SupervisorSettings:
        return cls(
            backoff_initial_s=_positive_float_env("STACK_RESTART_BACKOFF_S", 1.0),
            backoff_max_s=_positive_float_env("STACK_RESTART_BACKOFF_MAX_S", 30.0),
            healthy_after_s=_positive_float_env("STACK_RESTART_HEALTHY_AFTER_S", 60.0),
            check_interval_s=_positive_float_env("STACK_CHECK_INTERVAL_S", 1.0),
        )


@dataclass(frozen=True)
class LogSettings:
    """Log files of the stack: rotated daily or at ``max_bytes``, and rotated files deleted
    after ``retention_days`` (logs can hold sender ids and errors about customers)."""

    retention_days: int = 14
    max_bytes: int = 50 * 1024 * 1024

    @classmethod
    def from_env(cls) -> LogSettings:
        days = _int_env("LOG_RETENTION_DAYS", 14)
        max_bytes = _int_env("LOG_MAX_BYTES", 50 * 1024 * 1024)
        if days < 1:
            raise ConfigurationError(f"LOG_RETENTION_DAYS must be at least 1, got {days}")
        if max_bytes < 1024:
            raise ConfigurationError(f"LOG_MAX_BYTES must be at least 1024, got {max_bytes}")
        return cls(retention_days=days, max_bytes=max_bytes)


@dataclass(frozen=True)
class RedisSettings:
    """The Redis the action server reads caches from, and how long its clients wait for it:
    under the action deadline, so a dead Redis is a quick miss, never a stalled reply."""

    url: str = ""
    key_prefix: str = "shopbot"
    socket_timeout_s: float = 1.0
    connect_timeout_s: float = 1.0
    recommendation_ttl_s: int = 3600

    @classmethod
    def from_env(cls) -> RedisSettings:
        return cls(
            url=os.environ.get("REDIS_URL", "").strip(),
            key_prefix=os.environ.get("TRACKER_KEY_PREFIX", "").strip() or "shopbot",
            socket_timeout_s=_positive_float_env("REDIS_SOCKET_TIMEOUT_S", 1.0),
            connect_timeout_s=_positive_float_env("REDIS_CONNECT_TIMEOUT_S", 1.0),
            recommendation_ttl_s=_int_env("RECOMMENDATION_CACHE_TTL_S", 3600),
        )


@dataclass(frozen=True)
class ClusterSettings:
    """`make run-cluster`: how many Rasa/action server pairs (`CLUSTER_SERVERS`) sit behind
    HAProxy (`HAPROXY_PATH`, Debian's package by default)."""

    servers: int = 2
    haproxy_path: str = "haproxy"

    @classmethod
    def from_env(cls) -> ClusterSettings:
        servers = _int_env("CLUSTER_SERVERS", 2)
        if not 1 <= servers <= 16:
            raise ConfigurationError(f"CLUSTER_SERVERS must be 1 to 16, got {servers}")
        path = os.environ.get("HAPROXY_PATH", "").strip() or "haproxy"
        if path == "haproxy" and not shutil.which(path) and Path("/usr/sbin/haproxy").exists():
            path = "/usr/sbin/haproxy"  # Debian installs it outside a normal user's PATH
        return cls(servers=servers, haproxy_path=path)


@dataclass(frozen=True)
class TrackerWindowSettings:
    """How many of the latest session's customer messages the tracker store keeps
    (`TRACKER_WINDOW_TURNS`); the whole history is in PostgreSQL's events table."""

    turns: int = 12

    @classmethod
    def from_env(cls) -> TrackerWindowSettings:
        turns = _int_env("TRACKER_WINDOW_TURNS", 12)
        if turns < 6:
            raise ConfigurationError(
                f"TRACKER_WINDOW_TURNS must be at least 6 (the policies look back 5), got {turns}"
            )
        return cls(turns=turns)


@dataclass(frozen=True)
class DemoTrafficSettings:
    """Simulated conversations the stack writes once into the demo shop (0: none), so its
    insights page, experiment reports and drift check have something to show."""

    conversations: int = 600
    days: int = 28

    @classmethod
    def from_env(cls) -> DemoTrafficSettings:
        settings = cls(
            conversations=_int_env("DEMO_TRAFFIC_CONVERSATIONS", 600),
            days=_int_env("DEMO_TRAFFIC_DAYS", 28),
        )
        if settings.conversations < 0 or settings.days < 1:
            raise ConfigurationError(
                "DEMO_TRAFFIC_CONVERSATIONS must be 0 or more and DEMO_TRAFFIC_DAYS at least 1"
            )
        return settings


@dataclass(frozen=True)
class InsightsSettings:
    """The operators' insights page: who may see it, where it listens, what it shows."""

    token: str = ""
    host: str = "127.0.0.1"
    port: int = 5057
    default_days: int = 28
    cache_s: float = 60.0
    statement_timeout_ms: int = 30_000
    session_hours: int = 8

    @classmethod
    def from_env(cls) -> InsightsSettings:
        token = os.environ.get("OPERATOR_TOKEN", "").strip()
        if token and len(token) < 16:
            raise ConfigurationError("OPERATOR_TOKEN must be at least 16 characters")
        return cls(
            token=token,
            host=os.environ.get("INSIGHTS_HOST", "").strip() or "127.0.0.1",
            port=_int_env("INSIGHTS_PORT", 5057),
            default_days=_int_env("INSIGHTS_DAYS", 28),
            cache_s=_float_env("INSIGHTS_CACHE_S", 60.0),
            statement_timeout_ms=_int_env("INSIGHTS_STATEMENT_TIMEOUT_MS", 30_000),
        )


@dataclass(frozen=True)
class ActionDeadlineSettings:
    """How long an action waits for one store call (`ACTION_IO_TIMEOUT_S`).

    Every inner timeout must be shorter, or a call would outlive the deadline by design: the
    customer told "try again" while the work still runs. `check` refuses such a setup.
    """

    io_timeout_s: float = 2.5

    @classmethod
    def from_env(cls) -> ActionDeadlineSettings:
        return cls(io_timeout_s=_positive_float_env("ACTION_IO_TIMEOUT_S", 2.5))

    def check(
        self, database: DatabaseSettings | None = None, redis: RedisSettings | None = None
    ) -> None:
        """Raise ConfigurationError naming the first inner timeout not under the deadline."""
        inner: list[tuple[str, float]] = []
        if database is not None:
            inner += [
                (
                    "DB_CONNECT_TIMEOUT_S (libpq waits at least 2 s)",
                    database.effective_connect_timeout_s,
                ),
                ("DB_STATEMENT_TIMEOUT_MS", database.statement_timeout_ms / 1000),
            ]
        if redis is not None:
            inner += [
                ("REDIS_SOCKET_TIMEOUT_S", redis.socket_timeout_s),
                ("REDIS_CONNECT_TIMEOUT_S", redis.connect_timeout_s),
            ]
        for name, seconds in inner:
            if seconds >= self.io_timeout_s:
                raise ConfigurationError(
                    f"{name} is {seconds:g} s, not shorter than ACTION_IO_TIMEOUT_S "
                    f"({self.io_timeout_s:g} s): a store call would outlive the action deadline"
                )


@dataclass(frozen=True)
class InputLimits:
    """What a channel accepts before Rasa sees a message. Parsing runs on Rasa's event loop,
    so one unbounded message would stall every conversation; a longer message gets a polite
    answer instead, and a larger request body a 413."""

    max_message_chars: int = 2000
    max_body_bytes: int = 1024 * 1024

    @classmethod
    def from_env(cls) -> InputLimits:
        chars = _int_env("MAX_MESSAGE_CHARS", 2000)
        body = _int_env("MAX_REQUEST_BODY_BYTES", 1024 * 1024)
        if chars < 1:
            raise ConfigurationError(f"MAX_MESSAGE_CHARS must be at least 1, got {chars}")
        if body < 4 * chars:
            raise ConfigurationError(
                f"MAX_REQUEST_BODY_BYTES ({body}) must hold a message of MAX_MESSAGE_CHARS "
                f"({chars}) in UTF-8: at least {4 * chars}"
            )
        return cls(max_message_chars=chars, max_body_bytes=body)


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class ErasureSettings:
    """How erasure requests are recorded, carried out and promised to the customer.

    The chat waits ``confirm_wait_s`` for the worker before it promises completion within
    ``promise_minutes``; requests made while PostgreSQL is down wait in the Redis list
    ``<queue_prefix>:erasure:requests`` until the worker moves them into the table.
    """

    promise_minutes: int = 15
    confirm_wait_s: float = 1.5
    max_attempts: int = 5
    retry_base_s: float = 5.0
    retry_max_s: float = 300.0
    lease_s: float = 300.0
    sweep_delays_s: tuple[float, ...] = (10.0, 300.0)
    poll_s: float = 1.0
    statement_timeout_ms: int = 60_000
    redis_url: str = ""
    redis_timeout_s: float = 1.0
    tracker_key_prefix: str = "shopbot"
    lock_key_prefix: str = "shopbot"
    queue_prefix: str = "shopbot"

    @property
    def queue_key(self) -> str:
        return f"{self.queue_prefix}:erasure:requests"

    @classmethod
    def from_env(cls) -> ErasureSettings:
        raw_delays = os.environ.get("ERASURE_SWEEP_DELAYS_S", "").strip()
        try:
            delays = tuple(float(d) for d in raw_delays.split(",") if d.strip()) or (10.0, 300.0)
        except ValueError as exc:
            raise ConfigurationError(
                f"ERASURE_SWEEP_DELAYS_S must be seconds separated by commas, got {raw_delays!r}"
            ) from exc
        tracker_prefix = os.environ.get("TRACKER_KEY_PREFIX", "").strip() or "shopbot"
        settings = cls(
            promise_minutes=_int_env("ERASURE_PROMISE_MINUTES", 15),
            confirm_wait_s=_float_env("ERASURE_CONFIRM_WAIT_S", 1.5),
            max_attempts=_int_env("ERASURE_MAX_ATTEMPTS", 5),
            retry_base_s=_float_env("ERASURE_RETRY_BASE_S", 5.0),
            retry_max_s=_float_env("ERASURE_RETRY_MAX_S", 300.0),
            lease_s=_float_env("ERASURE_LEASE_S", 300.0),
            sweep_delays_s=delays,
            poll_s=_float_env("JOBS_POLL_S", 1.0),
            statement_timeout_ms=_int_env("ERASURE_STATEMENT_TIMEOUT_MS", 60_000),
            redis_url=os.environ.get("REDIS_URL", "").strip(),
            redis_timeout_s=_float_env("ERASURE_REDIS_TIMEOUT_S", 1.0),
            tracker_key_prefix=tracker_prefix,
            lock_key_prefix=os.environ.get("LOCK_KEY_PREFIX", "").strip() or "shopbot",
            queue_prefix=os.environ.get("ERASURE_QUEUE_PREFIX", "").strip() or tracker_prefix,
        )
        if settings.max_attempts < 1 or settings.promise_minutes < 1:
            raise ConfigurationError(
                "ERASURE_MAX_ATTEMPTS and ERASURE_PROMISE_MINUTES must be at least 1"
            )
        if min(settings.sweep_delays_s) < 0 or settings.confirm_wait_s < 0:
            raise ConfigurationError("erasure delays and waits cannot be negative")
        return settings


@dataclass(frozen=True)
class ExperimentSettings:
    """How often the worker checks the running experiments' guardrails."""

    guard_interval_s: float = 600.0

    @classmethod
    def from_env(cls) -> ExperimentSettings:
        interval = _float_env("EXPERIMENT_GUARD_INTERVAL_S", 600.0)
        if interval <= 0:
            raise ConfigurationError("EXPERIMENT_GUARD_INTERVAL_S must be positive")
        return cls(guard_interval_s=interval)


@dataclass(frozen=True)
class RetentionSettings:
    """How long each kind of record is kept; 0 keeps it forever. Run every ``interval_s``."""

    event_days: int = 90
    ticket_days: int = 365
    feedback_days: int = 365
    dead_letter_days: int = 30
    erasure_job_days: int = 30
    opted_out_text_hours: int = 24
    interval_s: float = 3600.0
    batch_size: int = 1000
    statement_timeout_ms: int = 60_000

    @classmethod
    def from_env(cls) -> RetentionSettings:
        settings = cls(
            event_days=_int_env("EVENT_RETENTION_DAYS", 90),
            ticket_days=_int_env("TICKET_RETENTION_DAYS", 365),
            feedback_days=_int_env("FEEDBACK_RETENTION_DAYS", 365),
            dead_letter_days=_int_env("DEAD_LETTER_RETENTION_DAYS", 30),
            erasure_job_days=_int_env("ERASURE_JOB_RETENTION_DAYS", 30),
            opted_out_text_hours=_int_env("OPTED_OUT_TEXT_RETENTION_HOURS", 24),
            interval_s=_float_env("RETENTION_INTERVAL_S", 3600.0),
            batch_size=_int_env("RETENTION_BATCH_SIZE", 1000),
            statement_timeout_ms=_int_env("RETENTION_STATEMENT_TIMEOUT_MS", 60_000),
        )
        periods = (
            settings.event_days,
            settings.ticket_days,
            settings.feedback_days,
            settings.dead_letter_days,
            settings.erasure_job_days,
            settings.opted_out_text_hours,
        )
        if min(periods) < 0 or settings.batch_size < 1 or settings.interval_s <= 0:
            raise ConfigurationError(
                "retention periods cannot be negative; RETENTION_BATCH_SIZE and "
                "RETENTION_INTERVAL_S must be positive"
            )
        return settings


@dataclass(frozen=True)
class EventPipelineSettings:
    """The event broker's durable spool and its writer into PostgreSQL (brokers/).

    Events wait in a local SQLite file until they are written, so an outage or a restart
    loses none. The spool is bounded: a full spool counts what it refuses instead of growing
    without limit.
    """

    spool_path: Path = Path(".rasa") / "event-spool.sqlite3"
    spool_max_events: int = 1_000_000
    batch_size: int = 500
    retry_min_s: float = 1.0
    retry_max_s: float = 5.0
    connect_timeout_s: int = 2
    statement_timeout_ms: int = 10_000
    close_timeout_s: float = 5.0

    @classmethod
    def from_env(cls) -> EventPipelineSettings:
        explicit = os.environ.get("EVENT_SPOOL_PATH", "").strip()
        data_dir = os.environ.get("STACK_DATA_DIR", "").strip()
        if explicit:
            path = Path(explicit)
        elif data_dir:
            path = Path(data_dir) / "event-spool.sqlite3"
        else:
            path = Path(".rasa") / "event-spool.sqlite3"
        settings = cls(
            spool_path=path,
            spool_max_events=_int_env("EVENT_SPOOL_MAX_EVENTS", 1_000_000),
            batch_size=_int_env("EVENT_BATCH_SIZE", 500),
            retry_min_s=_positive_float_env("EVENT_RETRY_MIN_S", 1.0),
            retry_max_s=_positive_float_env("EVENT_RETRY_MAX_S", 5.0),
            connect_timeout_s=_int_env("EVENT_DB_CONNECT_TIMEOUT_S", 2),
            statement_timeout_ms=_int_env("EVENT_DB_STATEMENT_TIMEOUT_MS", 10_000),
            close_timeout_s=_positive_float_env("EVENT_CLOSE_TIMEOUT_S", 5.0),
        )
        if settings.spool_max_events < 1 or settings.batch_size < 1:
            raise ConfigurationError("EVENT_SPOOL_MAX_EVENTS and EVENT_BATCH_SIZE must be positive")
        if settings.connect_timeout_s < 1 or settings.statement_timeout_ms < 1:
            raise ConfigurationError(
                "EVENT_DB_CONNECT_TIMEOUT_S and EVENT_DB_STATEMENT_TIMEOUT_MS must be at least 1 "
                "(0 waits forever)"
            )
        return settings


@dataclass(frozen=True)
class ActionCallSettings:
    """How long Rasa retries an action-server call that never reached the server.

    `ACTION_CALL_RETRY_S` bounds the whole retry (default 6 s: a supervised action server is
    back within about 2-5 s). Only calls that certainly were not delivered are retried
    (stack/action_calls.py); the back-off starts at `initial_delay_s` and doubles up to
    `max_delay_s`.
    """

    retry_s: float = 6.0
    initial_delay_s: float = 0.25
    max_delay_s: float = 1.0
    timeout_s: float = 15.0  # one call's limit (ACTION_CALL_TIMEOUT_S), under the lock's 20 s

    @classmethod
    def from_env(cls) -> ActionCallSettings:
        return cls(
            retry_s=_positive_float_env("ACTION_CALL_RETRY_S", 6.0),
            timeout_s=_positive_float_env("ACTION_CALL_TIMEOUT_S", 15.0),
        )
