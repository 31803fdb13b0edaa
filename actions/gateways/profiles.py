"""Who the customer is: profile, segment, tier, consent, tone and open orders."""

from __future__ import annotations

from typing import Protocol

from actions import personalization_client as client
from actions.gateways.provider import Provider
from actions.outcome import Outcome
from personalization.profile import CustomerContext, ProfileReader


class Profiles(Protocol):
    async def context(self, customer_id: str) -> Outcome[CustomerContext]:
        """The customer's context; refused for an id the shop does not know."""
        ...


class StoreProfiles:
    async def context(self, customer_id: str) -> Outcome[CustomerContext]:
        if not client.is_valid_customer_id(customer_id):
            return Outcome.refused("not a customer id")
        outcome = await client.run(
            "profile lookup", lambda: ProfileReader(client.database()).context(customer_id)
        )
        return outcome.found("unknown customer")


profile_store: Provider[Profiles] = Provider(StoreProfiles)
