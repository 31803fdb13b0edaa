"""When to bring in a person, in one place so support leads can read and tune it.

- the customer asks for one, or the bot failed to understand them twice in a row: hand off;
- a VIP customer with a problem: hand off, with high priority;
- the mood is negative and getting worse: hand off, before the customer has to ask;
- a problem and a negative mood: offer a person, and let the customer choose.
"""

from __future__ import annotations

from dataclasses import dataclass

NEGATIVE_MOOD = -0.3
WORSENING_FLOOR = -0.2


@dataclass(frozen=True)
class Escalation:
    action: str  # "handoff", "offer" or "none"
    reason: str | None = None


NONE = Escalation("none")


def decide(
    *,
    problem: bool,
    tier: str | None,
    mood: float,
    trend: str | None,
    explicit_request: bool = False,
    repeated_fallback: bool = False,
    offer_reason: str = "billing_distress",
) -> Escalation:
    """`offer_reason` names the problem on the ticket if the customer accepts the offer."""
    if explicit_request:
        return Escalation("handoff", "customer_request")
    if repeated_fallback:
        return Escalation("handoff", "repeated_fallback")
    if trend == "worsening" and mood < WORSENING_FLOOR:
        return Escalation("handoff", "worsening_mood")
    if problem and tier == "vip":
        return Escalation("handoff", "vip_problem")
    if problem and mood < NEGATIVE_MOOD:
        return Escalation("offer", offer_reason)
    return NONE
