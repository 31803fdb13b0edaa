"""Data rights: consent, a readable export, and complete erasure.

Erasure removes the profile and, through ON DELETE CASCADE or explicitly, everything keyed to
it (orders, returns, interactions, sentiment, feedback, tickets, consent, segments, known
conversations). It also removes every conversation of the customer: the event rows a
conversation platform streamed into the `events` table, and the conversation keys in Redis;
then cached recommendations and the customer's rows in every stored model version. What
survives is the consent audit under the pseudonymous id (actions, times and counts, no
content), ending with the erasure: the proof of what was asked and done that a regulator asks
for. The steps live here; `personalization.jobs.erasure` runs them as a durable, retried job.
"""

from personalization.privacy.consent import (
    PrivacyError,
    audit,
    personalization_allowed,
    set_personalization,
)
from personalization.privacy.erasure import (
    ErasureReport,
    customer_conversations,
    delete_events,
    erase_customer,
    erase_records,
    forget_conversation,
    forget_elsewhere,
)
from personalization.privacy.export import export_customer, summarise_customer
from personalization.privacy.tracker_store import REST_PREFIX, ConversationStore
from personalization.privacy.wording import readable_export, readable_summary

__all__ = [
    "REST_PREFIX",
    "ConversationStore",
    "ErasureReport",
    "PrivacyError",
    "audit",
    "customer_conversations",
    "delete_events",
    "erase_customer",
    "erase_records",
    "export_customer",
    "forget_conversation",
    "forget_elsewhere",
    "personalization_allowed",
    "readable_export",
    "readable_summary",
    "set_personalization",
    "summarise_customer",
]
