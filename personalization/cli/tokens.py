"""`personalization token CUSTOMER`: mint a customer token, as the shop's backend would.

For the local demo and for trying the REST channel by hand. It signs with
CUSTOMER_TOKEN_SECRET (HS256), which `make env` creates for the embedded set-up. A shop with
an asymmetric key signs on its own backend instead; the bot then holds only the public key
and cannot mint at all.
"""

from __future__ import annotations

import argparse
from typing import Any

from personalization.auth.tokens import CUSTOMER_ID, mint_token
from personalization.cli.common import CommandError
from personalization.settings import TokenSettings


def _cmd_token(args: argparse.Namespace) -> dict[str, Any]:
    settings = TokenSettings.from_env()
    if not settings.algorithm.startswith("HS") or not settings.secret:
        raise CommandError(
            "minting needs CUSTOMER_TOKEN_SECRET (HS256); with a public key configured, "
            "tokens are minted by the shop's backend"
        )
    if not CUSTOMER_ID.match(args.customer):
        raise CommandError(f"not a customer id: {args.customer!r}")
    ttl = min(args.ttl, settings.max_lifetime_s)
    print(
        mint_token(
            args.customer,
            settings.secret,
            settings.audience,
            ttl_s=ttl,
            algorithm=settings.algorithm,
            issuer=settings.issuer,
        )
    )
    return {}


def register(commands: Any) -> None:
    cmd = commands.add_parser(
        "token", help="print a signed customer token (JWT) for the REST channel or a page"
    )
    cmd.add_argument("customer", help="the customer id the token vouches for, e.g. cust-0001")
    cmd.add_argument("--ttl", type=int, default=900, help="seconds until it expires (default 900)")
    cmd.set_defaults(handler=_cmd_token, needs_db=False)
