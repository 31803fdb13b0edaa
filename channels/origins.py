"""Which web origins may talk to the Rasa server from a browser: its own, and a configured few.

The web chat is served by Rasa itself, so it needs no cross-origin access at all; a shop that
embeds the chat elsewhere lists its pages' origins in RASA_CORS_ORIGINS (comma-separated).
"""

from __future__ import annotations

from personalization.settings import WebOriginSettings

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def public_origin() -> str:
    """Where customers reach this server (RASA_PUBLIC_URL), or its local address."""
    return WebOriginSettings.from_env().public_url


def allowed_origins() -> list[str]:
    origins = [public_origin()]
    scheme, _, rest = origins[0].partition("://")
    host, _, port = rest.partition(":")
    if host in LOOPBACK_NAMES:  # the same local server under its other names
        suffix = f":{port}" if port else ""
        origins += [f"{scheme}://{name}{suffix}" for name in LOOPBACK_NAMES if name != host]
    extra = WebOriginSettings.from_env().cors_origins
    origins += [o.rstrip("/") for o in extra if o != "*"]
    return list(dict.fromkeys(origins))
