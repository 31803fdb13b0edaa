"""Turns DATABASE_URL and REDIS_URL (or embedded servers) into the variables the stack reads.

`endpoints.yml` and `credentials.yml` are plain Rasa files whose values are `${VARS}`; this
module is the one place that fills them, so `make run`, `make env` and the tests agree.
"""

from __future__ import annotations

import logging
import os
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2.extensions

from stack.services import EmbeddedPostgres, EmbeddedRedis, write_private

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Values used when the environment does not say otherwise.
DEFAULTS: dict[str, str] = {
    "TRACKER_KEY_PREFIX": "shopbot",
    "TRACKER_RECORD_EXP": str(30 * 24 * 3600),
    "LOCK_KEY_PREFIX": "shopbot",
    # Rasa's conversation lock. A turn cut off by a Redis crash never releases its ticket, and
    # the conversation's next message waits for the ticket to expire: 20 s, not Rasa's 60 s.
    "TICKET_LOCK_LIFETIME": "20",
    "RASA_HOST": "127.0.0.1",
    "RASA_PORT": "5005",
    "ACTION_HOST": "127.0.0.1",
    "ACTION_PORT": "5055",
    "ACTIONS_WARM_UP": "1",
    "SLACK_BOT_TOKEN": "",
    "SLACK_SIGNING_SECRET": "",
    "SLACK_CHANNEL": "",
    "SLACK_API_URL": "https://slack.com/api/",
    "RASA_ENABLE_API": "0",
    "DEMO_MODE": "0",
    "INSIGHTS_HOST": "127.0.0.1",
    "INSIGHTS_PORT": "5057",
}


class StackConfigError(ValueError):
    """A configured URL cannot be used."""


@dataclass
class StackEnvironment:
    values: dict[str, str]
    started: list[str] = field(default_factory=list)
    # Embedded servers this environment uses (their URL was unset), started now or before.
    embedded: list[str] = field(default_factory=list)

    def exports(self) -> str:
        """Shell `export` lines, for `eval "$(make -s env)"`."""
        from shlex import quote

        return "\n".join(
            f"export {key}={quote(value)}" for key, value in sorted(self.values.items())
        )


def data_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("STACK_DATA_DIR") or PROJECT_ROOT / ".data").resolve()


def _normalise_database_url(url: str) -> str:
    if url.startswith("postgres://"):  # the Heroku spelling, which SQLAlchemy 1.4 refuses
        url = "postgresql://" + url[len("postgres://") :]
    if not url.startswith("postgresql://"):
        raise StackConfigError(
            f"DATABASE_URL must be a postgresql:// URL, got {url.split(':')[0]}:…"
        )
    try:
        psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError as exc:
        raise StackConfigError(f"DATABASE_URL cannot be parsed: {exc}") from exc
    return url


def redis_parts(url: str) -> dict[str, str]:
    """Split a redis:// URL into the host, port, db and password Rasa's stores take."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise StackConfigError("REDIS_URL must look like redis://[:password@]host[:port][/db]")
    db = parts.path.lstrip("/") or "0"
    if not db.isdigit():
        raise StackConfigError(f"REDIS_URL database must be a number, got {db!r}")
    return {
        "REDIS_HOST": parts.hostname,
        "REDIS_PORT": str(parts.port or 6379),
        "REDIS_DB": db,
        "REDIS_PASSWORD": parts.password or "",
    }


def resolve(
    environ: Mapping[str, str] | None = None, start_services: bool = True
) -> StackEnvironment:
    """Complete the environment; start embedded servers only for URLs that are unset."""
    environ = dict(os.environ if environ is None else environ)
    values = {key: environ.get(key) or default for key, default in DEFAULTS.items()}
    started: list[str] = []
    embedded: list[str] = []
    root = data_dir(environ)
    private_directory(root)

    database_url = environ.get("DATABASE_URL", "").strip()
    if not database_url:
        if not start_services:
            raise StackConfigError("DATABASE_URL is unset and starting services is disabled")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
            pg = EmbeddedPostgres(root / "postgres")
            was_running = pg.is_running()
            database_url = pg.start()
        if not was_running:
            started.append("postgres")
        embedded.append("postgres")
    values["DATABASE_URL"] = _normalise_database_url(database_url)

    redis_url = environ.get("REDIS_URL", "").strip()
    if not redis_url:
        if not start_services:
            raise StackConfigError("REDIS_URL is unset and starting services is disabled")
        embedded_redis = EmbeddedRedis(root / "redis")
        was_running = embedded_redis.is_running()
        redis_url = embedded_redis.start()
        if not was_running:
            started.append("redis")
        embedded.append("redis")
    values["REDIS_URL"] = redis_url
    values.update(redis_parts(redis_url))

    values["ACTION_ENDPOINT_URL"] = environ.get("ACTION_ENDPOINT_URL") or (
        f"http://{values['ACTION_HOST']}:{values['ACTION_PORT']}/webhook"
    )
    values["PSEUDONYM_KEY"] = environ.get("PSEUDONYM_KEY") or local_secret(root, "pseudonym.key")
    values["ACTION_SERVER_TOKEN"] = environ.get("ACTION_SERVER_TOKEN") or local_secret(
        root, "action-server.token"
    )
    values["IDENTITY_KEY"] = environ.get("IDENTITY_KEY") or local_secret(root, "identity.key")
    values["OPERATOR_TOKEN"] = environ.get("OPERATOR_TOKEN") or local_secret(root, "operator.token")
    if not environ.get("CUSTOMER_TOKEN_PUBLIC_KEY_FILE"):
        values["CUSTOMER_TOKEN_SECRET"] = environ.get("CUSTOMER_TOKEN_SECRET") or local_secret(
            root, "customer-token.secret"
        )
    if not environ.get("RASA_API_TOKEN"):
        values["RASA_API_TOKEN_FILE"] = environ.get("RASA_API_TOKEN_FILE") or str(
            local_api_token(root)
        )
    values["HELP_CENTER_URL"] = environ.get("HELP_CENTER_URL") or (
        f"http://{values['RASA_HOST']}:{values['RASA_PORT']}/webhooks/chat/help"
    )
    values["STACK_DATA_DIR"] = str(root)
    values["RECOMMENDER_DIR"] = environ.get("RECOMMENDER_DIR") or str(root / "recommender")
    return StackEnvironment(values=values, started=started, embedded=embedded)


def private_directory(path: Path) -> None:
    """The stack's data directory: only its owner may list or enter it. It holds secrets, the
    Redis dump (Redis writes it world-readable) and logs.

    Run as root, embedded PostgreSQL runs as its own user, which must pass through this
    directory to its data: taking that away made the server panic at its next checkpoint.
    Then others may pass through but not list it (0711), and every subdirectory except
    PostgreSQL's own (which it keeps at 0700) is closed to them instead.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.geteuid() != 0:
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
        return
    path.chmod(0o711)
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink() and child.name != "postgres":
            child.chmod(0o700)


def local_secret(root: Path, name: str) -> str:
    """A random secret kept beside the embedded data, made once, so it is stable across runs
    (imported ids, tokens already handed out).

    Production sets each one from its secret store instead (docs/security.md).
    """
    path = root / name
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    return path.read_text().strip()


def local_api_token(root: Path) -> Path:
    """The Rasa HTTP API token file, and beside it a header file for `curl -H @file`, so the
    token never has to be typed on a command line."""
    token = local_secret(root, "rasa-api.token")
    header = root / "rasa-api.header"
    if not header.exists():
        write_private(header, f"Authorization: Bearer {token}\n")
    return root / "rasa-api.token"


def stop_embedded(
    environ: Mapping[str, str] | None = None, only: list[str] | None = None
) -> list[str]:
    """Stop the embedded servers of this data directory; return the names stopped."""
    environ = dict(os.environ if environ is None else environ)
    root = data_dir(environ)
    stopped = []
    services = {
        "postgres": EmbeddedPostgres(root / "postgres"),
        "redis": EmbeddedRedis(root / "redis"),
    }
    for name, service in services.items():
        if only is not None and name not in only:
            continue
        if service.stop():
            stopped.append(name)
    return stopped
