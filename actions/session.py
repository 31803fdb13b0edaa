"""Session start: recognise the customer, load their context into slots, greet them fittingly.

The greeting depends on the service tier (a returning VIP, a new customer, one who has been
away) and the tone they prefer; an open order is mentioned before they have to ask. A
customer who opted out of personalization is greeted like any visitor.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import PROOF_SLOT, TREATMENT_SLOT, identity_proof, message_identity
from actions.gateways.experiments import experiment_store
from actions.gateways.identity import identity_store
from actions.gateways.profiles import profile_store
from personalization.auth.proof import IdentityProof, MessageIdentity
from personalization.experiments.treatment import Treatment
from personalization.profile import CustomerContext, OpenOrder
from personalization.settings import ConfigurationError, IdentitySettings

log = logging.getLogger(__name__)
DEFAULT_TTL_S = IdentitySettings.proof_ttl_s

PROFILE_SLOTS = (
    "identity_proof",
    "customer_id",
    "customer_name",
    "customer_known",
    "customer_segment",
    "customer_tier",
    "customer_at_risk",
    "personalization_allowed",
    "preferred_tone",
    "open_orders",
    "needs_onboarding",
    "response_style",
    TREATMENT_SLOT,
)
# Per-session state: what was asked, the mood, the journey's form slots.
SESSION_SLOTS = (
    "session_started_metadata",
    "requested_slot",
    "pending_question",
    "mood",
    "mood_slow",
    "mood_messages",
    "mood_trend",
    "mood_label",
    "mood_offered_at",
    "escalation_reason",
    "order_number",
    "return_item",
    "return_reason",
    "order_choices",
    "shopping_request",
    "paused_form",
    "identity",
    "verification_order",
    "interest",
    "budget",
    "suggested_article",
    "shown_products",
)
_NOT_CARRIED_OVER = set(PROFILE_SLOTS) | set(SESSION_SLOTS)


def session_proof(tracker: Tracker) -> IdentityProof | None:
    """The proof the channel verified for the message that opened this session, if any.

    Only a channel writes the identity block (channels/identity.py), and only after checking
    a token or Slack's verified email. The sender id is never a customer id.
    """
    message = MessageIdentity.from_metadata(tracker.get_slot("session_started_metadata"))
    if message is None:
        return None
    return IdentityProof.from_message(message, proof_ttl_s())


def proof_ttl_s() -> float:
    """How long a proof holds; the default when the settings cannot be read, so a bad
    setting costs no conversation (the channels, which need the key, refuse to start)."""
    try:
        return IdentitySettings.from_env().proof_ttl_s
    except ConfigurationError as exc:
        log.warning("identity settings unreadable (%s); proofs hold %d s", exc, DEFAULT_TTL_S)
        return DEFAULT_TTL_S


async def proof_from_latest_message(tracker: Tracker) -> dict[str, Any]:
    """Slots for the customer the latest message proves, in a conversation that has no proof
    that holds: a token shown after an anonymous start, or again after the proof expired.

    Run after every message (``action_validate_slot_mappings``). A conversation already
    proven to be with someone is never handed to another customer: that message is simply
    not theirs (``known_customer``), and nothing asked or begun for the first customer (an
    erasure waiting for its "yes", a form) can be finished by the second.
    """
    message = message_identity(tracker)
    if message is None:
        return {}
    current = identity_proof(tracker)
    if current is not None and current.holds_for(message):
        return {}
    if message.customer_id is None or (current is not None and time.time() < current.expires_at):
        # Nobody this message proves may take the conversation: if it had a customer, their
        # profile leaves it too, so no reply greets or ranks a stranger as them.
        return signed_out() if current is not None else {}
    proof = IdentityProof.from_message(message, proof_ttl_s())
    context = (await profile_store().context(message.customer_id)).value if proof else None
    if proof is None or context is None:
        return {}
    await record_proof(tracker, proof)
    _served, slots = await profile_slots(tracker, context, proof)
    if current is not None and current.customer_id != proof.customer_id:
        # Nothing of theirs carries on: questions, offered orders, picks, paused forms.
        slots.update(pending_question=None, escalation_reason=None, **PERSONAL_STATE)
    return slots


# What a conversation holds about its customer beyond the profile, dropped with the proof.
PERSONAL_STATE = {
    "order_choices": None,
    "paused_form": None,
    "shown_products": None,
    "shopping_request": None,
    "order_number": None,
    "return_item": None,
    "return_reason": None,
}


def signed_out() -> dict[str, Any]:
    """The profile slots of a conversation whose proof no longer holds."""
    return {**{name: None for name in PROFILE_SLOTS}, **PERSONAL_STATE, "customer_known": False}


def proof_is_private(tracker: Tracker) -> bool:
    message = MessageIdentity.from_metadata(tracker.get_slot("session_started_metadata"))
    return message is not None and message.private


async def record_proof(tracker: Tracker, proof: IdentityProof) -> None:
    """Keep the proof in the store too (audit, erasure); the conversation holds it either way."""
    await identity_store().record_proof(tracker.sender_id, proof)


def _carried_over_slots(tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
    if not domain.get("session_config", {}).get("carry_over_slots_to_new_session", True):
        return []
    return [
        SlotSet(name, value)
        for name, value in tracker.slots.items()
        if value is not None and name not in _NOT_CARRIED_OVER
    ]


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted(), *_carried_over_slots(tracker, domain)]
        proof = session_proof(tracker)
        context = (await profile_store().context(proof.customer_id)).value if proof else None
        if proof is None or context is None:
            treatment, style = await start(tracker, None)
            dispatcher.utter_message(response="utter_welcome")
            events += [SlotSet(name, None) for name in PROFILE_SLOTS]
            events.append(SlotSet("customer_known", False))
            events.append(SlotSet("response_style", style))
            events.append(SlotSet(TREATMENT_SLOT, treatment.as_slot()))
        else:
            await record_proof(tracker, proof)
            context, slots = await profile_slots(tracker, context, proof)
            events += [SlotSet(name, value) for name, value in slots.items()]
            if context.personalization_allowed and context.first_name:
                log.info("session started for known customer %s", context.customer_id)
                dispatcher.utter_message(
                    response=welcome_response(context.tier, context.tone),
                    customer_name=context.first_name,
                )
                if proof_is_private(tracker):  # never an order number in a shared channel
                    _mention_open_order(dispatcher, context.open_orders)
            else:  # opted out, or known from an order export without a name
                dispatcher.utter_message(response="utter_welcome")
        events.append(ActionExecuted("action_listen"))
        return events


async def profile_slots(
    tracker: Tracker, context: CustomerContext, proof: IdentityProof
) -> tuple[CustomerContext, dict[str, Any]]:
    """The profile as the running experiments serve it, with its proof, arms and style, as
    slots; and the served profile, which the greeting follows."""
    treatment, style = await start(tracker, context)
    served = treatment.serve(context)
    slots = {
        **served.as_slots(),
        PROOF_SLOT: proof.as_slot(),
        TREATMENT_SLOT: treatment.as_slot(),
    }
    if served.personalization_allowed:
        slots["response_style"] = style
    return served, slots


async def start(tracker: Tracker, context: CustomerContext | None) -> tuple[Treatment, str | None]:
    """The running experiments' arms for this conversation and its response style (none for
    a customer served without personalization); neither if the store cannot say. Only a
    customer who allows personalization is followed across conversations."""
    personal = context is not None and context.personalization_allowed
    found = await experiment_store().start_session(
        context.customer_id if context and personal else None,
        tracker.sender_id,
        context.segment if context and personal else None,
        context.tone if context and personal else None,
        styled=context is None or personal,
    )
    return found.value_or((Treatment(), None))


# One response per tier and tone, not conditional variants: Rasa renders an action's
# responses against the tracker as it was before the action's own SlotSet events, so the new
# session's slots are not there yet when the greeting is rendered.
WELCOME_RESPONSES = {
    ("vip", "casual"): "utter_welcome_back_vip_casual",
    ("vip", "formal"): "utter_welcome_back_vip_formal",
    ("new", "casual"): "utter_welcome_back_new_casual",
    ("new", "formal"): "utter_welcome_back_new_formal",
    ("lapsed", "casual"): "utter_welcome_back_lapsed_casual",
    ("lapsed", "formal"): "utter_welcome_back_lapsed_formal",
    ("regular", "casual"): "utter_welcome_back_regular_casual",
    ("regular", "formal"): "utter_welcome_back_regular_formal",
}


def welcome_response(tier: str, tone: str) -> str:
    group = tier if tier in ("vip", "new", "lapsed") else "regular"
    return WELCOME_RESPONSES[(group, "formal" if tone == "formal" else "casual")]


def _mention_open_order(dispatcher: CollectingDispatcher, orders: tuple[OpenOrder, ...]) -> None:
    shipped = [o for o in orders if o.status == "shipped" and o.expected_delivery]
    if shipped:
        order = shipped[0]
        if order.expected_delivery < date.today():
            dispatcher.utter_message(response="utter_open_order_late", order_id=order.id)
            return
        dispatcher.utter_message(
            response="utter_open_order_on_its_way",
            order_id=order.id,
            expected_delivery=order.expected_delivery.strftime("%A %-d %B"),
        )
