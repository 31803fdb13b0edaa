"""How often a conversation gets stuck: scripted customers try to reach a goal over REST.

    python -m benchmarks.stuck_rate [--per-kind 12] [--seed 7] [--max-turns 8]

It starts an isolated stack (its own PostgreSQL, Redis, ports; the demo shop) and plays
customers built from the demo shop's real orders. They behave as customers do:

- they don't know their order numbers, and name an item instead ("the speckled vase");
- they say "I don't have the number" when asked for it;
- they change their minds halfway through a return, and ask for something else;
- they ask a side question in the middle of a form, and say "ok thanks" to it;
- they give budgets and categories, then ask for "cheaper".

A customer clicks a button when it shows what they are after (their order, their item),
answers the question asked, and otherwise goes on with their script. A conversation reaches
its goal when the bot does what the customer came for, checked in PostgreSQL where it can be
(a return row for that order's item; recommended products' prices and categories), within
`--max-turns` customer messages and without a fallback loop (two "I didn't understand"
answers). It prints the rate per kind and overall, and every failed conversation's
transcript. The goal is 95 % or more.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.reliability_stack import IsolatedStack
from tests.conftest import PROJECT_ROOT

FALLBACK = re.compile(
    r"not sure I understood|didn't quite understand|not sure I follow|still can't help|"
    r"didn't catch that",
    re.IGNORECASE,
)
ASKS_ORDER = re.compile(r"which order|order number|recent orders", re.IGNORECASE)
ASKS_ITEM = re.compile(r"which item", re.IGNORECASE)
ASKS_REASON = re.compile(r"why are you sending it back", re.IGNORECASE)
ASKS_RESUME = re.compile(r"shall we finish|carry on", re.IGNORECASE)
ASKS_INTEREST = re.compile(r"what are you shopping for|which is closest", re.IGNORECASE)
ASKS_BUDGET = re.compile(r"budget", re.IGNORECASE)
NOTHING_CHEAPER = re.compile(r"nothing cheaper", re.IGNORECASE)
STOPWORDS = {
    "set",
    "of",
    "and",
    "the",
    "with",
    "in",
    "a",
    "for",
    "small",
    "large",
    "mini",
    "pack",
}
# What customers call the demo shop's things; the first that a description holds is its kind.
NOUNS = (
    "tea towel",
    "t light holder",
    "water bottle",
    "rolling pin",
    "watering can",
    "bird feeder",
    "wall clock",
    "photo frame",
    "seed kit",
    "sewing kit",
    "bath towel",
    "throw blanket",
    "cushion cover",
    "gift tags",
    "gift wrap",
    "wall calendar",
    "spinning top",
    "paper chain",
    "candle",
    "lantern",
    "lampshade",
    "mug",
    "bowl",
    "napkins",
    "carafe",
    "tray",
    "cakestand",
    "tins",
    "cases",
    "apron",
    "bag",
    "shopper",
    "basket",
    "card",
    "ribbon",
    "bunting",
    "decoration",
    "calendar",
    "baubles",
    "wreath",
    "notebook",
    "pencil",
    "stickers",
    "skittles",
    "jigsaw",
    "doll",
    "bracelet",
    "scarf",
    "umbrella",
    "planter",
    "doormat",
    "mirror",
    "vase",
    "boxes",
    "jars",
    "bin",
)
# Other words customers use for some of those things, matched by meaning, not spelling.
OTHER_WORDS = {
    "lampshade": "lamp shade",
    "doormat": "door mat",
    "photo frame": "picture frame",
    "wall clock": "clock",
    "throw blanket": "blanket",
    "mug": "cup",
    "shopper": "tote bag",
    "carafe": "water jug",
    "baubles": "christmas balls",
    "planter": "plant pot",
}
RETURN_OPENINGS = (
    "I'd like to return {w} I bought",
    "can I send back {w}?",
    "{w} arrived broken, I want a refund",
    "hi, I need to return {w}",
    "thanks, and can I return {w}?",
    "how do I return {w}",
)
STATUS_OPENINGS = (
    "where's my order? it's {w}",
    "has {w} been sent?",
    "hi, where is {w} I ordered?",
    "when will {w} arrive?",
)
GIFT_OPENINGS = (
    ("a housewarming gift under £{b}", None),
    ("something for my dad, no more than £{b}", None),
    ("gift ideas for a child under £{b}", None),
    ("any ideas for the {c} under £{b}?", "category"),
    ("hi, can you suggest something for the {c}? max £{b}", "category"),
)
SIDE_QUESTIONS = (
    "are you a bot?",
    "how long does delivery take?",
    "what's your returns policy?",
    "do you deliver to france?",
)
REASONS = ("it arrived chipped", "it's the wrong size", "it doesn't look like the photo")


@dataclass
class Line:
    order_id: str
    status: str
    ordered_on: str
    stock_code: str
    description: str
    category: str

    def other_words(self, rng: random.Random) -> str | None:
        """A name for the item by meaning ("the lamp shade" for a lampshade), if there is one."""
        described = " ".join(re.findall(r"[a-z]+", self.description.lower()))
        for noun, other in OTHER_WORDS.items():
            if re.search(rf"\b{noun}\b", described):
                return f"the {other}"
        return None

    def reference(self, rng: random.Random) -> str:
        """How a customer names the item: its kind of thing ("the vase", "the tea towel"),
        sometimes with a word that describes it ("the speckled vase")."""
        words = [w.lower() for w in re.findall(r"[A-Za-z]+", self.description)]
        noun = next((n for n in NOUNS if re.search(rf"\b{n}\b", " ".join(words))), None)
        if noun is None:
            return f"the {' '.join(words[:2])}"
        others = [w for w in words if w not in STOPWORDS and w not in noun.split() and len(w) > 3]
        if others and rng.random() < 0.5:
            return f"the {rng.choice(others)} {noun}"
        return f"the {noun}"


@dataclass
class Script:
    """One scripted customer: what they say first, what they answer, and their goal."""

    kind: str
    customer: str
    opening: list[str]
    goal: Callable[[Conversation], bool]
    target: Line | None = None
    item_words: str = ""
    reason: str = "it arrived chipped"
    budget: float | None = None
    category: str | None = None
    said_dont_know: bool = False
    said_item: bool = False
    excluded: str | None = None  # a category the last list must not hold ("not candles")
    lists_wanted: int = 1


@dataclass
class Conversation:
    script: Script
    sender: str
    turns: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    lists: list[list[str]] = field(default_factory=list)  # stock codes of each list shown
    fallbacks: int = 0
    reached: bool = False

    def replies(self) -> list[dict[str, Any]]:
        return self.turns[-1][1] if self.turns else []

    def text(self) -> str:
        return " ".join(m.get("text") or "" for m in self.replies())

    def transcript(self) -> str:
        lines = []
        for said, replies in self.turns:
            lines.append(f"  you> {said}")
            for m in replies:
                buttons = " ".join(f"[{b['title']}]" for b in m.get("buttons") or [])
                lines.append(f"  bot> {m.get('text') or ''} {buttons}".rstrip())
        return "\n".join(lines)


class Shop:
    """The demo shop as the isolated stack holds it."""

    def __init__(self, stack: IsolatedStack) -> None:
        self.stack = stack

    def lines(self, customer: str) -> list[Line]:
        rows = self.stack.query(
            """SELECT o.id, o.status, to_char(o.ordered_at, 'YYYY-MM-DD'), l.stock_code,
                      p.description, p.category
               FROM orders o JOIN order_lines l ON l.order_id = o.id
               JOIN products p ON p.stock_code = l.stock_code
               WHERE o.customer_id = %s ORDER BY o.ordered_at DESC, l.line_no""",
            customer,
        )
        return [Line(*row) for row in rows]

    def orders_with(self, customer: str, line: Line) -> list[str]:
        rows = self.stack.query(
            "SELECT DISTINCT o.id FROM orders o JOIN order_lines l ON l.order_id = o.id "
            "WHERE o.customer_id = %s AND l.stock_code = %s",
            customer,
            line.stock_code,
        )
        return [r[0] for r in rows]

    def customers(self) -> list[str]:
        return [
            r[0] for r in self.stack.query("SELECT DISTINCT customer_id FROM orders ORDER BY 1")
        ]

    def products(self, codes: list[str]) -> dict[str, tuple[float, str]]:
        rows = self.stack.query(
            "SELECT stock_code, unit_price::float, category FROM products "
            "WHERE stock_code = ANY(%s)",
            codes,
        )
        return {code: (price, category) for code, price, category in rows}

    def returned(self, customer: str, line: Line) -> bool:
        return bool(
            self.stack.query(
                "SELECT 1 FROM return_requests WHERE customer_id = %s AND order_id = %s "
                "AND stock_code = %s",
                customer,
                line.order_id,
                line.stock_code,
            )
        )

    def categories(self) -> list[str]:
        return [r[0] for r in self.stack.query("SELECT DISTINCT category FROM products ORDER BY 1")]


# ----- goals ---------------------------------------------------------------------------------

RETURN_ANSWERED = re.compile(
    r"past your \d+-day return window|already booked|hasn't been delivered yet", re.IGNORECASE
)


def return_goal(shop: Shop) -> Callable[[Conversation], bool]:
    def reached(c: Conversation) -> bool:
        line = c.script.target
        assert line is not None
        if shop.returned(c.script.customer, line):
            return True
        # A clear policy answer about that order is what the customer came for, too.
        return bool(RETURN_ANSWERED.search(c.text())) and line.order_id in c.text()

    return reached


STOPPED = re.compile(r"I've stopped", re.IGNORECASE)
NOTHING_LEFT = re.compile(r"anything else I can help with", re.IGNORECASE)


def stopped_goal(c: Conversation) -> bool:
    """Stopped when asked to, and nothing of the form asked again."""
    stopped = STOPPED.search(c.text()) or NOTHING_LEFT.search(c.text())  # done already
    return bool(stopped) and not ASKS_ORDER.search(c.text())


def status_goal(shop: Shop) -> Callable[[Conversation], bool]:
    """The status of the order the customer means: the one with the item, or, when the item
    is in several, any of them (an open one is the likelier)."""

    def reached(c: Conversation) -> bool:
        line = c.script.target
        assert line is not None
        text = c.text()
        if "can't find" in text:
            return False
        return any(order_id in text for order_id in shop.orders_with(c.script.customer, line))

    return reached


def list_goal(shop: Shop, cheaper: bool = False) -> Callable[[Conversation], bool]:
    def reached(c: Conversation) -> bool:
        if not c.lists:
            return False
        shown = shop.products(c.lists[-1])
        prices = [price for price, _ in shown.values()]
        if not prices:
            return False
        if c.script.budget is not None and max(prices) > c.script.budget + 1e-6:
            return False
        if c.script.category and any(cat != c.script.category for _, cat in shown.values()):
            return False
        if c.script.excluded and any(cat == c.script.excluded for _, cat in shown.values()):
            return False
        if len(c.lists) < c.script.lists_wanted:
            return False  # each refinement answered with a list of its own
        if cheaper:
            if len(c.lists) < 2:
                return False
            before = [p for p, _ in shop.products(c.lists[-2]).values()]
            # Cheaper picks, or told plainly that there are none.
            return bool(before) and (
                max(prices) < max(before) or bool(NOTHING_CHEAPER.search(c.text()))
            )
        return True

    return reached


# ----- the customer --------------------------------------------------------------------------


def codes_in(replies: list[dict[str, Any]]) -> list[str]:
    codes = []
    for message in replies:
        for button in message.get("buttons") or []:
            found = re.search(r'"product"\s*:\s*"([^"]+)"', button.get("payload") or "")
            if found and (button.get("payload") or "").startswith("/choose_product"):
                codes.append(found.group(1))
    return codes


def next_message(c: Conversation, pending: list[str]) -> str | None:
    """What the customer says next: a button that shows what they are after, an answer to the
    question asked, or the next line of their script."""
    s, text = c.script, c.text()
    buttons = [b for m in c.replies() for b in m.get("buttons") or []]
    if ASKS_RESUME.search(text):
        return "yes"
    if pending:  # the script's next line comes first: a side question, "ok thanks"
        return pending.pop(0)
    if s.target is not None:
        for button in buttons:
            if s.target.order_id in (button.get("payload") or ""):
                return button["payload"]
        for button in buttons:
            payload = button.get("payload") or ""
            if s.target.stock_code in payload and "order_number" not in payload:
                return payload  # the item, on the order already chosen
        if any("order_number" in (b.get("payload") or "") for b in buttons) and s.said_item:
            # Their order is not among those shown: they say when they placed it.
            day = date.fromisoformat(s.target.ordered_on)
            return f"the one from {day.day} {day.strftime('%B')}"
    if ASKS_REASON.search(text) and s.kind.startswith("return"):
        return s.reason
    if ASKS_ITEM.search(text) and s.item_words:
        return s.item_words
    if ASKS_ORDER.search(text) and s.target is not None:
        if not s.said_dont_know:
            s.said_dont_know = True
            return "I don't have the order number"
        s.said_item = True
        return f"it's {s.item_words}" if s.item_words else "the last one"
    if ASKS_INTEREST.search(text) and s.category:
        return s.category
    if ASKS_BUDGET.search(text) and s.budget:
        return f"under £{s.budget:.0f}"
    return None


def play(stack: IsolatedStack, script: Script, max_turns: int) -> Conversation:
    c = Conversation(script, f"stuck-{uuid.uuid4().hex[:10]}")
    token = stack.token(script.customer)
    script.said_item = bool(script.item_words) and any(
        script.item_words in line for line in script.opening
    )
    pending = list(script.opening)
    message: str | None = pending.pop(0)
    while message is not None and len(c.turns) < max_turns:
        reply = stack.say(c.sender, message, token)
        replies = (
            reply.json() if reply.status_code == 200 else [{"text": f"HTTP {reply.status_code}"}]
        )
        c.turns.append((message, replies))
        c.fallbacks += sum(bool(FALLBACK.search(m.get("text") or "")) for m in replies)
        codes = codes_in(replies)
        if codes:
            c.lists.append(codes)
        if c.fallbacks >= 2:
            return c  # a fallback loop: stuck
        if script.goal(c) and not pending:
            c.reached = True
            return c
        message = next_message(c, pending)
    return c


# ----- the scripts ---------------------------------------------------------------------------


def scripts(shop: Shop, per_kind: int, rng: random.Random) -> list[Script]:
    customers = shop.customers()
    by_customer = {c: shop.lines(c) for c in customers}
    with_orders = [c for c in customers if by_customer[c]]
    open_lines = [
        line for c in with_orders for line in by_customer[c] if line.status in ("placed", "shipped")
    ]
    delivered = {
        c: [line for line in by_customer[c] if line.status == "delivered"] for c in with_orders
    }
    categories = [c for c in shop.categories() if c != "Other"]
    out: list[Script] = []
    used: set[tuple[str, str, str]] = set()

    def pick_delivered() -> tuple[str, Line]:
        for _ in range(200):
            customer = rng.choice(with_orders)
            if delivered[customer]:
                line = rng.choice(delivered[customer][:12])  # the recent ones
                key = (customer, line.order_id, line.stock_code)
                if key not in used:
                    used.add(key)
                    return customer, line
        raise RuntimeError("the demo shop has too few delivered orders")

    def a_return(kind: str, opening: list[str], by_meaning: bool = False) -> Script:
        """A customer returning one of their delivered items; ``{w}`` in the opening is
        how they name it."""
        customer, line = pick_delivered()
        words = (by_meaning and rng.random() < 0.4 and line.other_words(rng)) or line.reference(rng)
        said = [text.format(w=words) for text in opening]
        return Script(kind, customer, said, return_goal(shop), line, words, rng.choice(REASONS))

    for _ in range(per_kind):
        # Names the item to return; never gives an order number.
        out.append(a_return("return: names the item", ["I'd like to return {w} I bought"]))

        # Asks to return, doesn't know the number, then names the item.
        out.append(a_return("return: doesn't know the number", ["I want to return something"]))

        # A side question in the middle of the return.
        side = rng.choice(SIDE_QUESTIONS)
        out.append(a_return("return: side question", ["can I send something back?", side]))

        # "ok thanks" in the middle of the return, then carries on.
        out.append(a_return("return: ok thanks midway", ["I need to return an item", "ok thanks"]))

        # Where is my order, naming the item.
        line = rng.choice(open_lines) if open_lines and rng.random() < 0.5 else None
        if line is None:
            customer, line = pick_delivered()
        else:
            customer = next(c for c in with_orders if any(x is line for x in by_customer[c]))
        words = line.reference(rng)
        out.append(
            Script(
                "status: names the item",
                customer,
                [
                    rng.choice(
                        [
                            f"where's my order? it's {words}",
                            f"has {words} been sent?",
                            f"hi, where is {words} I ordered?",
                        ]
                    )
                ],
                status_goal(shop),
                line,
                words,
            )
        )

        # Changes their mind: starts a return, stops, asks for ideas with a budget.
        customer = rng.choice(with_orders)
        budget = float(rng.choice((10, 15, 20, 25)))
        out.append(
            Script(
                "changes their mind",
                customer,
                [
                    "I want to return something",
                    rng.choice(["actually, never mind", "forget it", "cancel that"]),
                    f"can you suggest a gift under £{budget:.0f}?",
                ],
                list_goal(shop),
                budget=budget,
            )
        )

        # Budget and category, then "cheaper".
        customer = rng.choice(with_orders)
        category = rng.choice(categories)
        budget = float(rng.choice((15, 20, 25, 30)))
        out.append(
            Script(
                "budget, category, cheaper",
                customer,
                [f"any ideas for {category.lower()} under £{budget:.0f}?", "cheaper please"],
                list_goal(shop, cheaper=True),
                budget=budget,
                category=category,
            )
        )
        # Returns in customers' own words, some naming the thing by meaning.
        opening = rng.choice(RETURN_OPENINGS)
        out.append(a_return("return: own words", [opening], by_meaning=True))

        # Where is it, in customers' own words.
        customer, line = pick_delivered()
        words = (rng.random() < 0.4 and line.other_words(rng)) or line.reference(rng)
        out.append(
            Script(
                "status: own words",
                customer,
                [rng.choice(STATUS_OPENINGS).format(w=words)],
                status_goal(shop),
                line,
                words,
            )
        )

        # Stops a form halfway, in any words.
        customer = rng.choice(with_orders)
        out.append(
            Script(
                "stops halfway",
                customer,
                [
                    rng.choice(["I want to return something", "where's my parcel?"]),
                    rng.choice(["never mind", "forget it", "cancel", "stop", "scrap that"]),
                ],
                stopped_goal,
            )
        )

        # Gifts with an occasion, a recipient or a category, then refined twice.
        customer = rng.choice(with_orders)
        budget = float(rng.choice((15, 20, 25, 30)))
        opening, kind = rng.choice(GIFT_OPENINGS)
        category = rng.choice(categories) if kind == "category" else None
        refinements = ["not candles", "more like the second one", "something else"]
        if category == "Lighting & candles":
            refinements.remove("not candles")  # no customer asks for candles, then not candles
        refinement = rng.choice(refinements)
        out.append(
            Script(
                "gift, refined twice",
                customer,
                [
                    opening.format(b=f"{budget:.0f}", c=(category or "").lower()),
                    refinement,
                    rng.choice(["cheaper please", "anything a bit cheaper?"]),
                ],
                list_goal(shop),
                budget=budget,
                category=category if refinement != "more like the second one" else None,
                excluded="Lighting & candles" if refinement == "not candles" else None,
                lists_wanted=3,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-kind", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-turns", type=int, default=8)
    parser.add_argument("--show", type=int, default=20, help="failed transcripts to print")
    args = parser.parse_args(argv)
    if not (PROJECT_ROOT / "models" / "shopbot.tar.gz").exists():
        print("error: no trained model at models/shopbot.tar.gz; run `make train`", file=sys.stderr)
        return 2
    stack = IsolatedStack(Path(tempfile.mkdtemp(prefix="stuck-rate-")) / "stack")
    started = time.monotonic()
    try:
        stack.start()
        print(f"stack ready in {time.monotonic() - started:.0f} s at {stack.base_url}")
        shop = Shop(stack)
        played = [
            play(stack, s, args.max_turns)
            for s in scripts(shop, args.per_kind, random.Random(args.seed))
        ]
    finally:
        stack.stop()
    total, reached = Counter(), Counter()
    for c in played:
        total[c.script.kind] += 1
        reached[c.script.kind] += c.reached
    print(f"\n{'kind':36s} reached")
    for kind in total:
        pct = 100 * reached[kind] / total[kind]
        print(f"{kind:36s} {reached[kind]:3d}/{total[kind]:<3d} {pct:5.1f} %")
    overall = 100 * sum(reached.values()) / max(1, sum(total.values()))
    turns = sorted(len(c.turns) for c in played if c.reached)
    print(f"{'overall':36s} {sum(reached.values()):3d}/{sum(total.values()):<3d} {overall:5.1f} %")
    if turns:
        print(f"median customer messages to the goal: {turns[len(turns) // 2]}")
    failed = [c for c in played if not c.reached]
    for c in failed[: args.show]:
        why = "fallback loop" if c.fallbacks >= 2 else f"goal not reached in {len(c.turns)} turns"
        target = c.script.target
        about = f" ({target.order_id} {target.description})" if target else ""
        print(f"\n--- {c.script.kind}, {c.script.customer}{about}: {why}\n{c.transcript()}")
    print(
        json.dumps(
            {"stuck_rate_reached_pct": round(overall, 1), "conversations": sum(total.values())}
        )
    )
    return 0 if overall >= 95 else 1


if __name__ == "__main__":
    sys.exit(main())
