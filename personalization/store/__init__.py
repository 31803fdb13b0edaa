"""PostgreSQL persistence: a connection pool, versioned migrations, a repository per aggregate."""

from personalization.store.db import Database, StoreUnavailable

__all__ = ["Database", "StoreUnavailable"]
