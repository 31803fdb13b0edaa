"""When to bring in a person, in one place so support leads can read and tune it.

- the customer asks for one, or the bot failed to understand them twice in a row: hand off;
- a VIP customer with a problem: hand off, with high priority;
- the mood is negative and getting worse: hand off, before the customer has to ask;
- a problem and a negative mood: offer a person, and let the customer choose;
- outside a problem, a mood that starts falling: offer a person; if the customer declines and
  the mood keeps falling by another `REOFFER_DROP`, offer again.
"""

from __future__ import annotations

from dataclasses import dataclass

NEGATIVE_MOOD = -0.3
WORSENING_FLOOR = -0.2
# How much further the mood must fall after a declined offer before a person is offered again;
# mood lives in [-1, 1], so a session sees at most a few offers.
REOFFER_DROP = 0.3


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


# Journeys that apply `decide` themselves: a falling mood is their business there.
ESCALATING_INTENTS = frozenset(
    {"order_status", "request_return", "billing_problem", "complain", "request_human", "ask_help"}
)


def mood_offer(
    *,
    mood: float,
    trend: str | None,
    previous_trend: str | None,
    offered_at: float | None,
    intent: str | None,
    busy: bool,
) -> str | None:
    """Whether a falling mood, outside the journeys that escalate on their own, earns the offer
    of a person: "first" when the mood starts falling, "again" when a declined offer was
    followed by a clear further fall (``offered_at`` is the mood at the last offer), else
    None. Never while something else is open (``busy``: a question, an offer, a form)."""
    if intent in ESCALATING_INTENTS or busy:
        return None
    if offered_at is not None:
        return "again" if offer_again_for_mood(mood, trend, offered_at) else None
    if trend == "worsening" and previous_trend != "worsening" and mood < WORSENING_FLOOR:
        return "first"
    return None


def mood_label(value: float) -> str:
    if value < NEGATIVE_MOOD:
        return "negative"
    return "positive" if value > -NEGATIVE_MOOD else "neutral"


def offer_again_for_mood(mood: float, trend: str | None, offered_at: float | None) -> bool:
    """A declined mood offer is repeated only when things got clearly worse since."""
    return (
        offered_at is not None
        and trend == "worsening"
        and mood < NEGATIVE_MOOD
        and mood <= offered_at - REOFFER_DROP
    )
