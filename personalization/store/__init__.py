"""PostgreSQL persistence: a connection pool, versioned migrations and one repository per aggregate."""

from personalization.store.db import Database, StoreUnavailable

__all__ = ["Database", "StoreUnavailable"]
