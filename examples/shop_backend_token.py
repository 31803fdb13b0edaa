"""How a shop's backend lets the support chat know its signed-in customer.

The backend, which already knows who is signed in, mints a short-lived JSON Web Token and puts
it in the page that embeds the chat. The bot checks the signature, `aud` and `exp`, and takes
`sub` as the customer id. Run it with the secret the bot has (`eval "$(make -s env)"` for the
local stack):

    python examples/shop_backend_token.py cust-0001            # the token
    python examples/shop_backend_token.py cust-0001 --html     # the chat element with it

A backend in another language does the same with its own JWT library: HS256 (or an
asymmetric algorithm, if the bot is given the public key), claims sub, aud, iat and exp.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import time

import jwt  # PyJWT

AUDIENCE = "hearth-home-support"
LIFETIME_S = 15 * 60  # a page is rendered again long before this; the bot takes at most 1 h


def customer_token(customer_id: str, secret: str, audience: str = AUDIENCE) -> str:
    now = int(time.time())
    claims = {"sub": customer_id, "aud": audience, "iat": now, "exp": now + LIFETIME_S}
    return jwt.encode(claims, secret, algorithm="HS256")


def chat_element(token: str) -> str:
    """The `#chat` element of webchat/index.html, as the signed-in page renders it."""
    return f'<div class="chat" id="chat" data-customer-token="{html.escape(token)}">'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customer_id")
    parser.add_argument("--html", action="store_true", help="print the chat element")
    args = parser.parse_args()
    secret = os.environ.get("CUSTOMER_TOKEN_SECRET", "")
    if not secret:
        print("set CUSTOMER_TOKEN_SECRET (the bot's, from its secret store)", file=sys.stderr)
        return 2
    token = customer_token(
        args.customer_id, secret, os.environ.get("CUSTOMER_TOKEN_AUDIENCE") or AUDIENCE
    )
    print(chat_element(token) if args.html else token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
