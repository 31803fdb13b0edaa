"""What a customer asks the shop for, in their own words, as constraints the recommender keeps.

"A gift for my mum under 15 pounds" becomes a recipient (mum) and a budget (under £15);
"cheaper please" or "more like the second one" are refinements of the list just shown, merged
into the request before it (`refine`); a fresh request replaces it. The vocabulary is data in
`personalization.support.shopping_words`.

A budget, a category and an exclusion are hard: no pick may break them (the recommender may
relax one, openly, when nothing fits). An occasion or a recipient only orders the picks.
Nothing here touches a database: the products shown are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from personalization.catalogue import OTHER, categorise
from personalization.support.preferences import interest_category
from personalization.support.shopping_words import (
    CATEGORY_LABELS,
    CATEGORY_WORDS,
    OCCASIONS,
    RECIPIENTS,
    GiftIdea,
)

# "Around £25" takes prices within this share of the amount either side.
AROUND_SHARE = 0.2
MAX_BUDGET = 10_000.0
# Round amounts a relaxed budget is raised to ("nothing under £3, so here is under £6").
NICE_AMOUNTS = (1, 2, 3, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 100, 150, 200, 250)


def money(amount: float) -> str:
    """£15, £8.95: whole pounds without pence."""
    return f"£{amount:.0f}" if float(amount).is_integer() else f"£{amount:.2f}"


@dataclass(frozen=True)
class Budget:
    """A price range. ``kind`` says how it was put, which decides its edges and its wording:
    under (< high), up_to (<= high), between (low..high), around (low..high), over (> low)."""

    kind: str
    low: float | None = None
    high: float | None = None

    KINDS = ("under", "up_to", "between", "around", "over")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown budget kind {self.kind!r}")

    @classmethod
    def under(cls, amount: float) -> Budget:
        return cls("under", high=amount)

    @classmethod
    def up_to(cls, amount: float) -> Budget:
        return cls("up_to", high=amount)

    @classmethod
    def over(cls, amount: float) -> Budget:
        return cls("over", low=amount)

    @classmethod
    def between(cls, low: float, high: float) -> Budget:
        low, high = sorted((low, high))
        return cls("between", low=low, high=high)

    @classmethod
    def around(cls, amount: float) -> Budget:
        spread = amount * AROUND_SHARE
        return cls("around", low=round(amount - spread, 2), high=round(amount + spread, 2))

    def fits(self, price: float | None) -> bool:
        if price is None:
            return False
        if self.kind == "under":
            return price < self.high  # type: ignore[operator]
        if self.kind == "over":
            return price > self.low  # type: ignore[operator]
        low = self.low if self.low is not None else 0.0
        high = self.high if self.high is not None else float("inf")
        return low <= price <= high

    def distance(self, price: float) -> float:
        """How far a price is outside the range (0 inside), to offer the nearest instead."""
        if self.fits(price):
            return 0.0
        if self.high is not None and price >= self.high:
            return price - self.high
        return (self.low or 0.0) - price

    def raised(self, cheapest: float) -> Budget | None:
        """A ceiling at most twice as high (a round amount) that lets in the ``cheapest``
        product, for "nothing under £3, so here is under £6"; None for a range or a floor,
        or when even double is not enough."""
        if self.kind not in ("under", "up_to") or self.high is None or cheapest > 2 * self.high:
            return None
        for amount in NICE_AMOUNTS:
            wider = Budget(self.kind, high=float(amount))
            if amount >= 2 * self.high and wider.fits(cheapest):
                return wider
        wider = Budget(self.kind, high=round(2 * self.high, 2))
        return wider if wider.fits(cheapest) else None

    def label(self) -> str:
        if self.kind == "under":
            return f"under {money(self.high)}"  # type: ignore[arg-type]
        if self.kind == "up_to":
            return f"up to {money(self.high)}"  # type: ignore[arg-type]
        if self.kind == "over":
            return f"over {money(self.low)}"  # type: ignore[arg-type]
        if self.kind == "around":
            return f"around {money(round((self.low + self.high) / 2, 2))}"  # type: ignore[operator]
        return f"{money(self.low)}–{money(self.high)}"  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, value: Any) -> Budget | None:
        if not isinstance(value, dict) or value.get("kind") not in cls.KINDS:
            return None
        try:
            low = None if value.get("low") is None else float(value["low"])
            high = None if value.get("high") is None else float(value["high"])
        except (TypeError, ValueError):
            return None
        return cls(value["kind"], low, high)


@dataclass(frozen=True)
class Liked:
    """A product shown before that the customer wants more of ("more like the second one")."""

    stock_code: str
    name: str
    category: str | None


@dataclass(frozen=True)
class ShoppingRequest:
    """Everything asked for so far in this conversation's shopping, kept in a slot."""

    category: str | None = None
    budget: Budget | None = None
    occasion: str | None = None
    recipient: str | None = None
    recipient_label: str | None = None
    excluded: tuple[str, ...] = ()
    like: Liked | None = None
    # Shown before: offered again only when nothing new fits.
    seen: tuple[str, ...] = ()

    @property
    def constrained(self) -> bool:
        """Whether the customer asked for anything the reply should state."""
        return bool(
            self.category or self.budget or self.occasion or self.recipient or self.excluded
        ) or (self.like is not None)

    @property
    def applied(self) -> list[str]:
        """The kinds of constraint in force, for the reply and the logs."""
        kinds = {
            "category": self.category is not None,
            "budget": self.budget is not None,
            "occasion": self.occasion is not None,
            "recipient": self.recipient is not None,
            "exclusion": bool(self.excluded),
            "like": self.like is not None,
        }
        return [kind for kind, on in kinds.items() if on]

    @property
    def gift_ideas(self) -> tuple[GiftIdea, ...]:
        ideas = (OCCASIONS.get(self.occasion or ""), RECIPIENTS.get(self.recipient or ""))
        return tuple(idea for idea in ideas if idea is not None)

    def excluded_categories(self) -> set[str]:
        return {c for c in (category_word(term) for term in self.excluded) if c}

    def excluded_words(self) -> list[str]:
        """Refused object words ("mugs"), as singular stems to find in product names."""
        return [singular(term) for term in self.excluded if category_word(term) is None]

    def allows(self, item: dict[str, Any]) -> bool:
        """Whether a product keeps every hard constraint: category, budget, exclusions."""
        category, price = item.get("category"), item.get("unit_price")
        if self.category is not None and category != self.category:
            return False
        if self.budget is not None and not self.budget.fits(price):
            return False
        if category in self.excluded_categories():
            return False
        return not mentions_any(str(item.get("description") or ""), self.excluded_words())

    def without(self, constraint: str) -> ShoppingRequest:
        """The same request with one constraint dropped, to relax it."""
        if constraint == "budget":
            return replace(self, budget=None)
        if constraint == "category":
            return replace(self, category=None, like=None)
        raise ValueError(f"cannot relax {constraint!r}")

    def describe(self) -> str:
        """The request in a few words: "kitchen gift ideas for your mum under £15 without
        candles". Replies put it in their own sentence (domain.yml)."""
        words: list[str] = []
        if self.category and not self.like:
            words.append(CATEGORY_LABELS.get(self.category, self.category.lower()))
        occasion = OCCASIONS.get(self.occasion or "")
        if self.like:
            words.append(f"picks like the {self.like.name}")
        elif occasion:
            words.append(occasion.label)
        elif self.recipient:
            words.append("gift ideas")
        else:
            words.append("picks")
        if self.recipient_label:
            words.append(f"for {self.recipient_label}")
        if self.budget:
            words.append(self.budget.label())
        if self.excluded:
            words.append("without " + " or ".join(self.excluded))
        return " ".join(words)

    def as_slot(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "budget": self.budget.as_dict() if self.budget else None,
            "occasion": self.occasion,
            "recipient": self.recipient,
            "recipient_label": self.recipient_label,
            "excluded": list(self.excluded),
            "like": (
                {
                    "stock_code": self.like.stock_code,
                    "name": self.like.name,
                    "category": self.like.category,
                }
                if self.like
                else None
            ),
            "seen": list(self.seen),
        }

    @classmethod
    def from_slot(cls, value: Any) -> ShoppingRequest | None:
        """The request kept in the slot; None for anything else (an old or damaged value)."""
        if not isinstance(value, dict):
            return None
        like = value.get("like")
        liked = (
            Liked(str(like["stock_code"]), str(like.get("name") or ""), like.get("category"))
            if isinstance(like, dict) and like.get("stock_code")
            else None
        )
        category = value.get("category")
        return cls(
            category=category if category in CATEGORY_LABELS else None,
            budget=Budget.from_dict(value.get("budget")),
            occasion=value.get("occasion") if value.get("occasion") in OCCASIONS else None,
            recipient=value.get("recipient") if value.get("recipient") in RECIPIENTS else None,
            recipient_label=_text_or_none(value.get("recipient_label")),
            excluded=tuple(str(t) for t in value.get("excluded") or () if t),
            like=liked,
            seen=tuple(str(c) for c in value.get("seen") or () if c),
        )


@dataclass(frozen=True)
class Said:
    """What one message says about shopping: constraints, and changes to the last list."""

    category: str | None = None
    budget: Budget | None = None
    occasion: str | None = None
    recipient: str | None = None
    recipient_label: str | None = None
    excluded: tuple[str, ...] = ()
    cheaper: bool = False
    pricier: bool = False
    like_position: int | None = None  # 0 for the first shown, -1 for the last
    others: bool = False  # "something else", "show me more"
    relative: bool = False  # "instead", "what about", "but": said against what came before

    @property
    def states_constraints(self) -> bool:
        return bool(
            self.category or self.budget or self.occasion or self.recipient or self.excluded
        )

    @property
    def refines(self) -> bool:
        """Whether the words only make sense against a list just shown."""
        return (
            self.cheaper
            or self.pricier
            or self.like_position is not None
            or self.others
            or self.relative
            or (bool(self.excluded) and not (self.category or self.occasion or self.recipient))
        )

    def as_request(self) -> ShoppingRequest:
        """A fresh request: these words alone."""
        return ShoppingRequest(
            category=None if self.category in self._excluded_categories() else self.category,
            budget=self.budget,
            occasion=self.occasion,
            recipient=self.recipient,
            recipient_label=self.recipient_label,
            excluded=self.excluded,
        )

    def _excluded_categories(self) -> set[str]:
        return {c for c in (category_word(t) for t in self.excluded) if c}


@dataclass(frozen=True)
class Ask:
    """One message's request and how it relates to the last: a ``refine`` changes the
    previous request against the list shown; otherwise the words replace it."""

    said: Said
    previous: ShoppingRequest | None = None
    refine: bool = False

    def request(self, shown: Sequence[dict[str, Any]] = ()) -> ShoppingRequest:
        """The request to answer; ``shown`` is the list the customer sees, in order."""
        if self.refine:
            return refine(self.previous, self.said, shown)
        return self.said.as_request()


def refine(
    previous: ShoppingRequest | None, said: Said, shown: Sequence[dict[str, Any]]
) -> ShoppingRequest:
    """The previous request changed by what was just said about the list ``shown``
    (products in the order shown, each with stock_code, description, category, unit_price).

    What the message does not mention is kept; what it mentions replaces the old value;
    exclusions add up. Everything shown is remembered as seen, so the new list brings new
    products first.
    """
    request = previous or ShoppingRequest()
    if said.category:
        request = replace(request, category=said.category, like=None)
    if said.budget:
        request = replace(request, budget=said.budget)
    if said.occasion:
        request = replace(request, occasion=said.occasion)
    if said.recipient:
        request = replace(request, recipient=said.recipient, recipient_label=said.recipient_label)
    if said.excluded:
        excluded = tuple(dict.fromkeys((*request.excluded, *said.excluded)))
        request = replace(request, excluded=excluded)
        if request.category in request.excluded_categories():
            request = replace(request, category=None, like=None)
    prices = sorted(float(p["unit_price"]) for p in shown if p.get("unit_price"))
    if said.cheaper and prices:
        # Below the lower middle of what was shown: most of the new picks undercut most of
        # the old ones, without insisting on the single cheapest. Of one or two shown, below
        # the dearer: under the cheapest alone would leave nothing to offer.
        pivot = prices[-1] if len(prices) <= 2 else prices[(len(prices) - 1) // 2]
        if request.budget is not None and request.budget.high is not None:
            pivot = min(pivot, request.budget.high)
        request = replace(request, budget=Budget.under(pivot))
    elif said.pricier and prices:
        request = replace(request, budget=Budget.over(prices[len(prices) // 2]))
    liked = _at(shown, said.like_position)
    if liked is not None:
        name = str(liked.get("description") or liked["stock_code"]).strip().title()
        category = liked.get("category")
        like = Liked(str(liked["stock_code"]), name, category)
        keep = category if category and category not in request.excluded_categories() else None
        request = replace(request, like=like, category=keep)
    seen = tuple(dict.fromkeys((*request.seen, *(str(p["stock_code"]) for p in shown))))
    return replace(request, seen=seen)


def _at(shown: Sequence[dict[str, Any]], position: int | None) -> dict[str, Any] | None:
    if position is None or not shown:
        return None
    if -len(shown) <= position < len(shown):
        return shown[position]
    return None


# -- Reading the words ------------------------------------------------------------------------

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "a hundred": 100,
}
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_NUMBER_WORD = (
    r"(?:(?:" + "|".join(_TENS) + r")(?:[ -](?:" + "|".join(_UNITS) + r"))?"
    r"|a hundred|hundred|fifteen|twelve|eleven|ten|" + "|".join(_UNITS) + r")"
)
_CURRENCY_WORD = r"(?:pounds?|quid|gbp|bucks|squid)"

_UNDER = (
    r"under",
    r"less than",
    r"below",
    r"beneath",
    r"cheaper than",
    r"lower than",
    r"not over",
    r"sub",
)
_UP_TO = (
    r"up to",
    r"upto",
    r"max(?:imum)?(?: of)?",
    r"at most",
    r"no more than",
    r"not more than",
    r"no more then",
    r"within",
    r"top(?:s)? of",
    r"(?:my |a |the )?budget(?: is| of| would be|'s)?(?: about| around)?",
    r"spend(?:ing)?(?: up to)?",
    r"no higher than",
    r"not above",
)
_OVER = (r"over", r"more than", r"above", r"at least", r"min(?:imum)?(?: of)?", r"upwards of")
_AROUND = (
    r"around",
    r"about",
    r"roughly",
    r"approx(?:imately|\.)?",
    r"circa",
    r"something like",
    r"close to",
    r"in the region of",
)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


# "£1,500" has a thousands comma; "£12,50" a decimal one.
_NUM = r"(?<![\d.,])(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?")
# A number followed by one of these counts things ("2 items", "a 5 year old"), not money.
_COUNTED = (
    r"(?!\s*(?:items?|pieces?|pcs|of\b|people|persons?|kids|children|years?|yrs?|days?|weeks?"
    r"|months?|hours?|minutes?|packs?|sets?|x\b|cm|mm|m\b|inch|%|st\b|nd\b|rd\b|th\b|\d))"
)
_MONEY = rf"(£\s?)?{_NUM}(?:\s?({_CURRENCY_WORD}|p\b|pence)|{_COUNTED})"
_RANGE = re.compile(
    rf"(?:\b(between|from)\s+)?(£\s?)?{_NUM}\s?(?:{_CURRENCY_WORD})?\s*(?:-|–|—|to|and)\s*"
    rf"(£\s?)?{_NUM}\s?({_CURRENCY_WORD})?"
)
_KEYWORDED = re.compile(
    r"(?<![\w£])("
    + "|".join(
        f"(?P<{name}>{_alternation(words)})"
        for name, words in (("under", _UNDER), ("up_to", _UP_TO), ("over", _OVER))
    )
    + rf"|(?P<around>{_alternation(_AROUND)}))\s*{_MONEY}"
)
_POSTFIX = re.compile(
    rf"{_MONEY}\s*(?:"
    r"(?P<up_to>or (?:less|under|below)|max(?:imum)?|tops|at most|at the most|limit)"
    r"|(?P<over>or (?:more|above|over)|plus|\+|and (?:up|above))"
    r"|(?P<around>-?ish|or so|give or take))"
)
_BARE = re.compile(rf"£\s?{_NUM}|{_NUM}\s?({_CURRENCY_WORD}|p\b|pence)")

_CHEAPER = re.compile(
    r"\b(?:cheap(?:er|est)?|less expensive|inexpensive|lower (?:price|prices|priced|budget)|"
    r"(?:more )?affordable|budget[- ]friendly|too (?:expensive|dear|pricey|much)|"
    r"not (?:so|as|that|too) (?:expensive|dear|pricey)|less money|less pricey|"
    r"bargains?|on a budget)\b"
)
_PRICIER = re.compile(
    r"\b(?:more expensive|pricier|dearer|fancier|posher|more upmarket|higher[- ]end|"
    r"splash out|premium|luxur(?:y|ious)|too cheap)\b"
)
_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
    "sixth": 5,
    "6th": 5,
    "last": -1,
    "final": -1,
}
_ORDINAL = _alternation(re.escape(o) for o in _ORDINALS)
_THING = r"(?:one|item|product|option|pick|thing|suggestion|idea)"
_LIKE_WORDS = (
    r"(?:more|some|something|anything|others?|ones?)?\s*like|similar to|same as|"
    r"along the lines of|more of|in the style of|similar ones? to"
)
_LIKE_ORDINAL = re.compile(
    rf"\b(?:{_LIKE_WORDS})\s+(?:the\s+|that\s+|your\s+)?({_ORDINAL})\b(?:\s+{_THING})?"
    rf"|\b(?:the\s+)?({_ORDINAL})\s+{_THING}\b"
)
_LIKE_NUMBER = re.compile(
    rf"\b(?:(?:{_LIKE_WORDS})\s+(?:the\s+)?)?(?:number|no\.?|#|item|option|pick)\s*(\d)\b"
    rf"|\b(?:{_LIKE_WORDS})\s+(\d)\b"
)
_OTHERS = re.compile(
    r"\b(?:something else|anything else|other (?:options|ideas|ones|things|suggestions|"
    r"picks|products)|others|different (?:ones|options|ideas|things)|show (?:me )?more|"
    r"more (?:options|ideas|suggestions|picks)|any more|what else|not (?:these|those|them)|"
    r"none of (?:these|those|them)|(?:don'?t|do not) like (?:these|those|them|any)|"
    r"bigger|smaller|larger)\b"
)
_RELATIVE = re.compile(r"\b(?:instead|what about|how about|rather|but)\b|^\s*(?:and|or)\b")
_NEGATION = re.compile(
    r"\b(?:not|no|without|except|excluding|apart from|other than|rather than|anything but|"
    r"nothing with|no more|avoid|skip|(?:i )?(?:don'?t|do not) (?:want|like|need|show me)|"
    r"hate|allergic to|instead of)\s+"
)
# Where a refused thing's name ends.
_TERM_END = re.compile(
    r"[,.;!?]|\b(?:but|please|pls|thanks|thank you|under|over|for|this time|again|"
    r"anymore|any more|though|instead|because|as|in|at|with|thx|either|too|as well)\b"
)
_LEADING = re.compile(r"^(?:(?:any|the|more|of|those|these|some|a|an|for|my|your)\s+)+")
_NOT_A_THING = {"sure", "idea", "thanks", "thank", "problem", "worries", "need", "way", "one"}
# A refused "thing" with one of these words is a sentence, not a product ("no i want candles").
_NOT_IN_A_THING = {"i", "you", "we", "it", "want", "meant", "mean", "need", "said", "like", "is"}


def normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("‘", "'").replace("´", "'")
    text = re.sub(r"\ba tenner\b", "£10", text)
    text = re.sub(r"\ba fiver\b", "£5", text)
    text = re.sub(
        rf"\b({_NUMBER_WORD})(\s*{_CURRENCY_WORD})\b",
        lambda m: f"{_number(m.group(1))}{m.group(2)}",
        text,
    )
    keywords = _alternation((*_UNDER, *_UP_TO, *_OVER, *_AROUND))
    text = re.sub(
        rf"\b((?:{keywords})\s+)({_NUMBER_WORD})\b",
        lambda m: f"{m.group(1)}{_number(m.group(2))}",
        text,
    )
    return re.sub(r"\s+", " ", text).strip()


def _number(words: str) -> int:
    words = words.replace("-", " ")
    if words in _NUMBER_WORDS:
        return _NUMBER_WORDS[words]
    tens, unit = words.split(" ", 1)
    return _NUMBER_WORDS[tens] + _NUMBER_WORDS[unit]


def _amount(number: str, unit: str | None = None) -> float | None:
    if _THOUSANDS.fullmatch(number):
        value = float(number.replace(",", ""))
    else:
        value = float(number.replace(",", "."))
    if unit in ("p", "pence"):
        value /= 100
    return value if 0 < value <= MAX_BUDGET else None


def parse_budget_phrase(text: str) -> tuple[Budget | None, str]:
    """The budget a message states, and the text with it taken out."""
    text = normalise(text)
    found = _RANGE.search(text)
    if found and (found.group(1) or found.group(2) or found.group(4) or found.group(6)):
        low, high = _amount(found.group(3)), _amount(found.group(5), found.group(6))
        if low is not None and high is not None and low != high:
            return Budget.between(low, high), _cut(text, found)
    found = _KEYWORDED.search(text)
    if found:
        return _keyworded(found, text)
    found = _POSTFIX.search(text)
    if found:
        kind = next(k for k in ("up_to", "over", "around") if found.group(k))
        amount = _amount(found.group(2), found.group(3))
        # "2 or more" counts things; money, an explicit "max" or "25ish" is a budget.
        explicit = kind == "up_to" or found.group(0).rstrip().endswith("ish")
        if amount is not None and (found.group(1) or found.group(3) or explicit):
            return _budget(kind, amount), _cut(text, found)
    found = _BARE.search(text)
    if found:
        number = found.group(1) or found.group(2)
        amount = _amount(number, found.group(3))
        if amount is not None:
            return Budget.up_to(amount), _cut(text, found)
    return None, text


def _keyworded(found: re.Match[str], text: str) -> tuple[Budget | None, str]:
    # The money groups follow the keyword groups: currency, number, unit.
    number, unit = found.groups()[-2:]
    amount = _amount(number, unit)
    if amount is None:
        return None, text
    kind = next(k for k in ("under", "up_to", "over", "around") if found.group(k))
    return _budget(kind, amount), _cut(text, found)


def _budget(kind: str, amount: float) -> Budget:
    return {
        "under": Budget.under,
        "up_to": Budget.up_to,
        "over": Budget.over,
        "around": Budget.around,
    }[kind](amount)


def _cut(text: str, found: re.Match[str]) -> str:
    return (text[: found.start()] + " " + text[found.end() :]).strip()


def _pattern(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + _alternation(words) + r")(?![\w-])")


_CATEGORY_PATTERNS = {category: _pattern(words) for category, words in CATEGORY_WORDS.items()}
_OCCASION_PATTERNS = {key: _pattern(idea.patterns) for key, idea in OCCASIONS.items()}
_RECIPIENT_PATTERNS = {
    key: re.compile(
        r"(?<![\w-])(?:(?P<det>my|our|a|an|the|his|her|their)\s+)?(?:(?:little|best|new)\s+)?"
        r"(?P<who>" + _alternation(idea.patterns) + r")(?:'s)?(?![\w-])"
    )
    for key, idea in RECIPIENTS.items()
}


def category_word(term: str) -> str | None:
    """The category a whole-category word names ("candles", "kitchen stuff"), or None."""
    term = term.strip().lower()
    for category, pattern in _CATEGORY_PATTERNS.items():
        if pattern.fullmatch(term) or pattern.fullmatch(
            re.sub(r"\s+(?:stuff|things|bits)$", "", term)
        ):
            return category
    return None


def singular(word: str) -> str:
    word = word.strip().lower()
    for plural, single in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("xes", "x")):
        if word.endswith(plural) and len(word) > len(plural) + 1:
            return word[: -len(plural)] + single
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def mentions_any(description: str, words: Sequence[str]) -> bool:
    """Whether a product name contains one of the words (singular or plural)."""
    text = description.lower()
    return any(re.search(rf"\b{re.escape(w)}(?:s|es)?\b", text) for w in words if w)


def _earliest(patterns: dict[str, re.Pattern[str]], text: str) -> tuple[str, re.Match[str]] | None:
    hits = [(key, m) for key, p in patterns.items() if (m := p.search(text))]
    if not hits:
        return None
    return min(hits, key=lambda hit: (hit[1].start(), -len(hit[1].group(0))))


def _exclusions(text: str) -> tuple[tuple[str, ...], str]:
    """Things refused ("not candles", "no mugs or glasses"), and the text without them."""
    refused: list[str] = []
    spans: list[tuple[int, int]] = []
    for negation in _NEGATION.finditer(text):
        rest = text[negation.end() :]
        lead = _LEADING.match(rest)
        offset = lead.end() if lead else 0
        end = _TERM_END.search(rest, offset)
        phrase = rest[offset : end.start()] if end else rest[offset:]
        kept = False
        for piece in re.split(r"\s*(?:,|\bor\b|\band\b|\bnor\b|/)\s*", phrase):
            term = _LEADING.sub("", piece.strip()).strip(" '\"")
            if _is_thing(term):
                refused.append(term)
                kept = True
        if kept:
            spans.append((negation.start(), negation.end() + offset + len(phrase)))
    for start, end in reversed(spans):
        text = text[:start] + " " + text[end:]
    return tuple(dict.fromkeys(refused)), text


def _is_thing(term: str) -> bool:
    """Whether a refused phrase names products, not a feeling ("not sure", "no idea")."""
    words = term.split()
    if not words or len(words) > 3 or term in _NOT_A_THING or set(words) & _NOT_IN_A_THING:
        return False
    return category_word(term) is not None or categorise(term) != OTHER


def _category(text: str, products: Sequence[str]) -> str | None:
    hit = _earliest(_CATEGORY_PATTERNS, text)
    if hit is not None:
        return hit[0]
    words = re.findall(r"[a-z][a-z'-]*", text)
    for n in (3, 2, 1):  # the longest product name first: "tea towel", then "towel"
        for i in range(len(words) - n + 1):
            found = categorise(" ".join(words[i : i + n]))
            if found != OTHER:
                return found
    for value in products:
        found = interest_category(value)
        if found is not None:
            return found
    return None


def _recipient(text: str) -> tuple[str | None, str | None, str]:
    hit = _earliest(_RECIPIENT_PATTERNS, text)
    if hit is None:
        return None, None, text
    key, found = hit
    idea = RECIPIENTS[key]
    det, who = found.group("det"), found.group("who")
    if det in ("my", "our"):
        label = f"your {who}"
    elif det in ("a", "an", "the", "his", "her", "their"):
        label = f"{det} {who}"
    else:
        label = f"your {who}" if idea.label.startswith("your ") else idea.label
    return key, label, _cut(text, found)


def _like_position(text: str) -> int | None:
    found = _LIKE_ORDINAL.search(text)
    if found:
        return _ORDINALS[found.group(1) or found.group(2)]
    found = _LIKE_NUMBER.search(text)
    if found:
        number = int(found.group(1) or found.group(2))
        return number - 1 if number >= 1 else None
    return None


MAX_REQUEST_CHARS = 200
MAX_EXCLUSIONS = 5


def parse(text: str | None, products: Sequence[str] = (), amounts: Sequence[str] = ()) -> Said:
    """Read one message. ``products`` and ``amounts`` are the NLU's entity values; the words
    themselves win where they say more ("not candles" refuses what the entity names).
    Only the first MAX_REQUEST_CHARS are read: a request is a sentence, and a long hostile
    one must not hold the action server."""
    text = normalise((text or "")[:MAX_REQUEST_CHARS])
    budget, rest = parse_budget_phrase(text)
    if budget is None:
        for amount in amounts:
            budget, _ = parse_budget_phrase(str(amount))
            if budget is not None:
                break
    like_position = _like_position(rest)
    excluded, rest = _exclusions(rest)
    excluded = excluded[:MAX_EXCLUSIONS]
    cheaper = bool(_CHEAPER.search(rest)) and budget is None
    pricier = bool(_PRICIER.search(rest)) and budget is None and not cheaper
    occasion_hit = _earliest(_OCCASION_PATTERNS, rest)
    occasion = occasion_hit[0] if occasion_hit else None
    if occasion_hit:
        rest = _cut(rest, occasion_hit[1])
    recipient, label, rest = _recipient(rest)
    if occasion == "mothers_day" and recipient is None:
        recipient, label = "mum", "your mum"
    if occasion == "fathers_day" and recipient is None:
        recipient, label = "dad", "your dad"
    refused = {category_word(t) for t in excluded}
    entity_products = [p for p in products if interest_category(p) not in refused]
    category = None if like_position is not None else _category(rest, entity_products)
    if category in refused:
        category = None
    return Said(
        category=category,
        budget=budget,
        occasion=occasion,
        recipient=recipient,
        recipient_label=label,
        excluded=excluded,
        cheaper=cheaper,
        pricier=pricier,
        like_position=like_position,
        others=bool(_OTHERS.search(rest)),
        relative=bool(_RELATIVE.search(rest)),
    )


def _text_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value.strip() else None


__all__ = [
    "Ask",
    "Budget",
    "Liked",
    "Said",
    "ShoppingRequest",
    "money",
    "parse",
    "refine",
]
