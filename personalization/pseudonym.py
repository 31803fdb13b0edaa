"""Pseudonymous customer ids for imported records.

A shop's own customer number is personal data once joined with orders. Imported customers
are keyed by an HMAC of that number under a secret key (`PSEUDONYM_KEY`), so the id is
stable across re-imports but cannot be reversed or recomputed without the key.
"""

from __future__ import annotations

import hashlib
import hmac

from personalization.settings import ConfigurationError, pseudonym_key

_MIN_KEY_LENGTH = 16


def pseudonym_key_from_env() -> bytes:
    key = pseudonym_key()
    if len(key) < _MIN_KEY_LENGTH:
        raise ConfigurationError(
            f"PSEUDONYM_KEY must be set to a secret of at least {_MIN_KEY_LENGTH} characters "
            "(`make env` creates one for the embedded set-up)"
        )
    return key.encode()


def pseudonymous_id(key: bytes, source: str, external_id: str) -> str:
    """`cust-` and 16 hex digits, derived from the source system's own id."""
    digest = hmac.new(key, f"{source}:{external_id}".encode(), hashlib.sha256).hexdigest()
    return f"cust-{digest[:16]}"
