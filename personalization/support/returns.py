"""Returns: the policy a customer's segment earns, and recording the return they ask for.

Loyal customers get longer to change their mind, the best ones a free collection; that is the
shop's way of thanking them. A return is accepted only for a delivered order of the customer,
within the window, for an item on that order, and only once per item.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, timedelta

from personalization.store import Database
from personalization.support.order_finder import best_lines, item_words
from personalization.support.orders import Order, OrderLine
from personalization.support.return_reasons import reason_kind, stored_reason

STANDARD_WINDOW_DAYS = 30


@dataclass(frozen=True)
class ReturnPolicy:
    window_days: int
    free_collection: bool

    @property
    def name(self) -> str:
        return "extended" if self.window_days > STANDARD_WINDOW_DAYS else "standard"


_POLICIES = {
    "Champions": ReturnPolicy(60, True),
    "Loyal": ReturnPolicy(45, False),
    "Potential loyalist": ReturnPolicy(45, False),
}


def policy_for(segment: str | None) -> ReturnPolicy:
    return _POLICIES.get(segment or "", ReturnPolicy(STANDARD_WINDOW_DAYS, False))


@dataclass(frozen=True)
class ReturnDecision:
    accepted: bool
    reason: str  # "accepted", "not_delivered", "too_late", "no_such_item", "already_requested"
    policy: ReturnPolicy
    line: OrderLine | None = None
    refund: float = 0.0
    deadline: date | None = None


def match_line(order: Order, item: str | None) -> OrderLine | None:
    """The order line a customer means: the only one, a stock code, or the name's words.

    Words are matched as the order finder matches them (plurals, prefixes, the last word
    counting most), never as substrings: "it" or "e" must not pick the first line that
    happens to contain those letters. A close spelling of a whole name is taken too.
    """
    if len(order.lines) == 1 and not item:
        return order.lines[0]
    if not item or not item.strip():
        return None
    wanted = item.strip()
    for line in order.lines:
        if wanted.upper() == line.stock_code.upper():
            return line
    words = item_words(wanted)
    if words:
        best = best_lines(order.lines, words)
        if len(best) == 1:
            return best[0]
        if best:
            return None  # two lines fit as well: the customer is asked which
    if len(wanted) >= 4:
        names = {line.description.upper(): line for line in order.lines}
        close = difflib.get_close_matches(wanted.upper(), list(names), n=1, cutoff=0.6)
        if close:
            return names[close[0]]
    return None


def return_deadline(order: Order, policy: ReturnPolicy) -> date:
    delivered_on = order.expected_delivery or order.ordered_on + timedelta(days=3)
    return delivered_on + timedelta(days=policy.window_days)


def cannot_be_returned(order: Order, segment: str | None, today: date) -> ReturnDecision | None:
    """Why nothing on this order can be returned (not delivered yet, past its window), or
    None. Known as soon as the order is, so the customer is not asked which item and why
    first."""
    policy = policy_for(segment)
    if order.status != "delivered":
        return ReturnDecision(False, "not_delivered", policy)
    deadline = return_deadline(order, policy)
    if today > deadline:
        return ReturnDecision(False, "too_late", policy, deadline=deadline)
    return None


class ReturnService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def decide(
        self, order: Order, item: str | None, segment: str | None, today: date
    ) -> ReturnDecision:
        policy = policy_for(segment)
        refused = cannot_be_returned(order, segment, today)
        if refused is not None:
            return refused
        deadline = return_deadline(order, policy)
        line = match_line(order, item)
        if line is None:
            return ReturnDecision(False, "no_such_item", policy, deadline=deadline)
        refund = round(line.quantity * line.unit_price, 2)
        return ReturnDecision(True, "accepted", policy, line, refund, deadline)

    def record(
        self,
        order: Order,
        decision: ReturnDecision,
        conversation_id: str,
        reason: str | None = None,
    ) -> ReturnDecision:
        """Store an accepted return, with the customer's reason if they gave one; asking
        twice for the same item is answered, not stored."""
        if not decision.accepted or decision.line is None:
            raise ValueError("only an accepted return can be recorded")
        with self._db.cursor() as cur:
            cur.execute(
                """INSERT INTO return_requests (customer_id, conversation_id, order_id, line_no,
                                                stock_code, quantity, refund, free_collection,
                                                reason, reason_kind)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (order_id, line_no) DO NOTHING RETURNING id""",
                (
                    order.customer_id,
                    conversation_id,
                    order.id,
                    decision.line.line_no,
                    decision.line.stock_code,
                    decision.line.quantity,
                    decision.refund,
                    decision.policy.free_collection,
                    stored_reason(reason),
                    reason_kind(reason),
                ),
            )
            if cur.fetchone() is None:
                return ReturnDecision(
                    False, "already_requested", decision.policy, decision.line, decision.refund
                )
        return decision
