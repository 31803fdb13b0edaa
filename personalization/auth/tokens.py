"""Customer tokens: the shop's backend vouches for a signed-in customer with a short-lived JWT.

The token is a standard JWT (RFC 7519) checked by PyJWT, never by our own parsing: the
signature under the one configured algorithm (so neither ``none`` nor a swap between HMAC and
public-key algorithms is accepted), ``exp``, ``iat``, ``aud`` and, when configured, ``iss``.
``sub`` is the customer id. A token that lives longer than the configured maximum is refused
too, so a leaked long-lived token cannot become a permanent key.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from personalization.settings import ConfigurationError, TokenSettings

CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
MAX_TOKEN_CHARS = 4096
_HMAC_ALGORITHMS = {"HS256", "HS384", "HS512"}
_PUBLIC_KEY_ALGORITHMS = {"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"}
MIN_SECRET_BYTES = 32


class InvalidToken(ValueError):
    """The token proves nothing; ``reason`` is safe to log (it holds no token material)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedToken:
    customer_id: str
    issued_at: float
    expires_at: float


class CustomerTokenVerifier:
    """Checks tokens under one key and algorithm."""

    def __init__(
        self,
        key: str | bytes,
        algorithm: str,
        audience: str,
        issuer: str | None = None,
        max_lifetime_s: int = 3600,
        leeway_s: int = 30,
    ) -> None:
        if algorithm not in _HMAC_ALGORITHMS | _PUBLIC_KEY_ALGORITHMS:
            raise ConfigurationError(f"unsupported customer token algorithm {algorithm!r}")
        if algorithm in _HMAC_ALGORITHMS and len(key) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"CUSTOMER_TOKEN_SECRET must be at least {MIN_SECRET_BYTES} characters"
            )
        self._key = key
        self._algorithm = algorithm
        self._audience = audience
        self._issuer = issuer
        self._max_lifetime_s = max_lifetime_s
        self._leeway_s = leeway_s

    @classmethod
    def from_settings(cls, settings: TokenSettings) -> CustomerTokenVerifier | None:
        """The verifier, or None when no key is configured (then no token is ever accepted)."""
        key = verification_key(settings)
        if key is None:
            return None
        return cls(
            key,
            settings.algorithm,
            settings.audience,
            settings.issuer,
            settings.max_lifetime_s,
            settings.leeway_s,
        )

    def verify(self, token: object) -> VerifiedToken:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("malformed")
        required = ["exp", "iat", "aud", "sub"] + (["iss"] if self._issuer else [])
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("wrong issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("bad signature") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not CUSTOMER_ID.match(subject):
            raise InvalidToken("subject is not a customer id")
        issued_at, expires_at = float(claims["iat"]), float(claims["exp"])
        if expires_at - issued_at > self._max_lifetime_s:
            raise InvalidToken("lifetime longer than allowed")
        if issued_at > time.time() + self._leeway_s:
            raise InvalidToken("issued in the future")
        return VerifiedToken(subject, issued_at, expires_at)


def verification_key(settings: TokenSettings) -> str | bytes | None:
    if settings.algorithm in _HMAC_ALGORITHMS:
        return settings.secret or None
    if settings.public_key_file is None:
        return None
    try:
        return Path(settings.public_key_file).read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"CUSTOMER_TOKEN_PUBLIC_KEY_FILE cannot be read: {exc.strerror}"
        ) from exc


def mint_token(
    customer_id: str,
    key: str | bytes,
    audience: str,
    ttl_s: int = 900,
    algorithm: str = "HS256",
    issuer: str | None = None,
    now: float | None = None,
) -> str:
    """A token as the shop's backend issues it; the bot itself mints only in demo mode."""
    if not CUSTOMER_ID.match(customer_id):
        raise ValueError(f"not a customer id: {customer_id!r}")
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "sub": customer_id,
        "aud": audience,
        "iat": issued,
        "exp": issued + int(ttl_s),
    }
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, key, algorithm=algorithm)
