"""`Authorization: Bearer <secret>`: the one reading of the header, for every door that uses it
(customer tokens on REST, the action server's secret, Rasa's API token)."""

from __future__ import annotations

import hmac


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def presents(authorization: str | None, secret: str) -> bool:
    """Whether the header carries ``secret``, compared in constant time; never for no secret."""
    token = bearer_token(authorization)
    return (
        bool(secret) and token is not None and hmac.compare_digest(token.encode(), secret.encode())
    )
