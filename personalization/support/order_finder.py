"""Which of a customer's orders they mean, from what they say instead of an order number.

A known customer rarely has the number to hand, and need not: "the speckled vase",
"my last order", "where's my parcel?" (with one parcel on its way) or "I don't have the
number" all say enough once we look at their own recent orders. Only those orders are ever
searched, so nothing here can point at another customer's order.

An item is matched against the order lines by words first: the customer's content words
(stopwords and the words of the journey itself, "return", "order", "bought", removed) with
plurals, prefixes and compounds tolerated ("candles" ~ "candle", "lamp" ~ "lampshade",
"tealight" ~ "t-light"), the last word
counting most, as it is usually the thing itself ("blue cushion"). When no word fits, the
meaning does: MiniLM vectors of the phrase and each line ("plant pot" ~ "terracotta
planter"), with a floor, since short phrases are all a little alike. The customer's own
words are kept, so the bot can say "I can't see candles in your orders since March".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum

import numpy as np

from personalization.support.orders import Order, OrderLine
from personalization.support.return_reasons import without_reason

Embed = Callable[[list[str]], np.ndarray]
"""Texts to one vector each (``SentenceEncoder.encode``, or a small one in tests)."""

OPEN_STATUSES = ("placed", "shipped")
# More words than this, none of them in an order, is a sentence about something else, not
# the name of an item.
MAX_ITEM_WORDS = 4
# MiniLM similarities of a short phrase to an unrelated product run up to about 0.4.
MEANING_FLOOR = 0.45
MEANING_MARGIN = 0.03
HEAD_WEIGHT = 2.0  # the last word: "blue cushion" is a cushion before it is blue
# A message is read for items in its first words only, and no product word is this long:
# matching costs words x order lines, and a 2,000-character message must not cost seconds.
MAX_CONSIDERED_WORDS = 24
MAX_WORD_LENGTH = 30


class Found(str, Enum):
    ONE = "one"  # this order (and the line, when an item was named)
    SEVERAL = "several"  # these orders all fit
    NO_SUCH_ITEM = "no_such_item"  # an item was named that none of the orders holds
    DONT_KNOW = "dont_know"  # the customer does not know the number
    NOTHING = "nothing"  # nothing that points at an order


@dataclass(frozen=True)
class Candidate:
    order: Order
    line: OrderLine | None = None  # the line named, when exactly one line of the order fits


@dataclass(frozen=True)
class OrderMatch:
    found: Found
    candidates: tuple[Candidate, ...] = ()  # newest first
    item: str | None = None  # the customer's words for the item, when one was named
    basis: str = ""  # how ONE was chosen: "item", "meaning", "latest", "only_open"
    recent: tuple[Order, ...] = ()  # the orders looked through, newest first

    @property
    def order(self) -> Order | None:
        return self.candidates[0].order if self.found is Found.ONE else None

    @property
    def line(self) -> OrderLine | None:
        return self.candidates[0].line if self.found is Found.ONE else None

    @property
    def since(self) -> date | None:
        """The oldest order looked through: "none of your orders since ..." is true from it."""
        return min((o.ordered_on for o in self.recent), default=None)


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
_LATEST = re.compile(
    r"\b(?:(?:last|latest|newest|most recent|recent|final) "
    r"(?:one|order|parcel|purchase|delivery|package|thing i (?:bought|ordered))\b"
    r"|most recent(?:ly)?|(?:my|the) latest|latest one|just (?:ordered|bought|placed))",
    re.IGNORECASE,
)
_PAPERS = r"(?:order )?(?:number|no|email|e-mail|confirmation|receipt|reference|invoice)s?"
_DONT_KNOW = re.compile(
    r"\b(?:"
    r"(?:don'?t|do not|can'?t|cannot|couldn'?t) (?:know|remember|recall)\b"
    r"|dunno|no idea|not sure|no clue|not a clue|forg[eo]t(?:ten)?\b"
    r"|(?:don'?t|do not|haven'?t|have not|didn'?t|did not) (?:have|got|get|keep|save)(?: got)?"
    rf" (?:it|that|one|(?:the|a|an|my|any|that|this) {_PAPERS})\b"
    rf"|(?:can'?t|cannot|couldn'?t|unable to) find (?:it|(?:the|my|that|this) {_PAPERS})\b"
    rf"|(?:lost|deleted|binned|threw away) (?:it|(?:the|my|that|this) {_PAPERS})\b"
    rf"|no {_PAPERS}\b"
    r")",
    re.IGNORECASE,
)
# Words that never name an item: function words, the journey's own words, people, time.
_STOPWORD_TEXT = """
    a an the i i'm i'd i've i'll im id ive me my mine myself we we're our ours us you you're
    your yours it it's its itself this that that's these those they they're them their he she
    his her him one ones some any all both each other another same such own
    is are was were be been being am do does did done doing have has had having get gets got
    getting gotten can could would should will shall may might must want wants wanted wanna
    need needs needed like liked let lets make made take took put use used go goes went going
    gone keep kept see saw seen look looking looked check checked tell told say said give gave
    know knew known think thought mean meant guess remember find found try tried hope hoping
    what what's whats where where's wheres when when's whens which who who's why how how's
    to of in on at for from with without about by and or but so if then than as up down out
    off into onto over under again just only also too very really still yet already even
    ever never not no nope yes yeah yep yup ok okay sure please pls plz thanks thank thx
    cheers hi hello hey dear sorry well oh ah um uh hmm erm maybe perhaps actually basically
    literally anyway there here now then soon today yesterday tomorrow tonight week weeks
    month months day days year years ago time times last latest recent recently earlier
    later first second third before after since until while during
    order orders ordered ordering parcel parcels package packages packet delivery deliveries
    deliver delivered delivering courier post posted postage shipping ship shipped shipment
    dispatch dispatched arrive arrives arrived arriving arrival come comes came coming
    status track tracking tracked return returns returned returning refund refunds refunded
    send sending sent back exchange exchanged replace replacement money bought buy buying
    purchase purchased purchases item items thing things stuff something anything product
    products number numbers no email emails confirmation receipt reference invoice account
    online website shop store site app demo
    help problem problems issue issues question query wrong broken damaged faulty size mind
    changed expected described working work quality fault late missing lost idea clue
    dunno forgot forgotten
    mum mom dad mother father wife husband partner friend friends daughter son sister
    brother kids child children family grandma grandmother grandad gran nan auntie aunt
    uncle boss colleague neighbour gift present birthday christmas wedding
    set sets pack packs piece pieces lot lots bit bits kind sort type lovely nice good great
    fine bad terrible awful happy unhappy
    hang wait moment minute sec hold anymore else talk speak chat person people human
    someone somebody agent team staff manager bot
    new old newer older newest oldest top bottom above below former latter
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday
    friday saturday sunday mon tue tues wed thu thur thurs fri sat sun weekend
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Words in product names that say nothing about which product it is.
_LISTED_NOISE = frozenset({"of", "and", "the", "a", "set", "pack", "with", "for", "in"})
_PREFERRED: dict[str, Callable[[Order], bool]] = {
    "status": lambda order: order.status in OPEN_STATUSES,  # only open orders have a status
    "return": lambda order: order.status == "delivered",  # only a delivered one can go back
}


def item_words(text: str) -> list[str]:
    """The words of a message that could name an item, in the customer's order."""
    plain = without_reason(text.translate(_APOSTROPHES)).lower()
    plain = _DONT_KNOW.sub(" ", _LATEST.sub(" ", plain))
    words = []
    for token in _TOKEN.findall(plain):
        base = token[:-2] if token.endswith("'s") else token
        if token in _STOPWORDS or base in _STOPWORDS or "'" in base:
            continue
        if not 2 <= len(base) <= MAX_WORD_LENGTH:
            continue
        words.append(base)
        if len(words) == MAX_CONSIDERED_WORDS:
            break
    return words


def says_dont_know(text: str) -> bool:
    """Whether the customer says they do not have or know the number."""
    return bool(_DONT_KNOW.search(text.translate(_APOSTROPHES)))


def names_latest(text: str) -> bool:
    return bool(_LATEST.search(text.translate(_APOSTROPHES)))


def with_article(phrase: str) -> str:
    """The item as it reads in a sentence: "a vase", "an enamel mug", "candles"."""
    if phrase.endswith("s") and not phrase.endswith("ss"):
        return phrase
    return f"{'an' if phrase[:1] in 'aeiou' else 'a'} {phrase}"


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def same_word(said: str, listed: str) -> bool:
    """One word the customer said for one word of a product name: plurals and prefixes."""
    a, b = _stem(said), _stem(listed)
    if a == b or (len(a) >= 4 and b.startswith(a)) or (len(b) >= 4 and a.startswith(b)):
        return True
    return len(b) >= 5 and a.endswith(b)  # a compound: "tealight" ~ "t-light"


def _word_score(words: list[str], line: OrderLine) -> tuple[float, list[str]]:
    """How well the customer's words name this line, and which of them did."""
    listed = _listed_words(line)
    hits = [w for w in words if any(same_word(w, x) for x in listed)]
    last = len(words) - 1
    score = sum(HEAD_WEIGHT if words.index(w) == last else 1.0 for w in hits)
    return score, hits


def best_lines(lines: Sequence[OrderLine], words: list[str]) -> list[OrderLine]:
    """The lines the words name best (none when no word fits any line)."""
    scored = [(_word_score(words, line)[0], line) for line in lines]
    best = max((score for score, _ in scored), default=0.0)
    return [line for score, line in scored if score == best] if best > 0 else []


def _listed_words(line: OrderLine) -> list[str]:
    return [w for w in _TOKEN.findall(line.description.lower()) if w not in _LISTED_NOISE]


class OrderFinder:
    """Finds the order a customer means among their own recent orders."""

    def __init__(self, embed: Embed | None = None) -> None:
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = {}  # product names seen: their vectors

    def find(
        self,
        orders: Sequence[Order],
        text: str,
        *,
        purpose: str | None = None,
        dont_know: bool = False,
    ) -> OrderMatch:
        """What ``text`` says about which of ``orders`` is meant.

        ``purpose`` ("status" or "return") narrows several orders to the one that can be
        meant (an open order has a status, a delivered one can be returned) and, for a
        status, lets the only open order stand for "my order". ``dont_know`` is the
        classifier's word that the customer does not know the number; the text is read for
        it too.
        """
        recent = tuple(sorted(orders, key=lambda o: o.ordered_on, reverse=True))
        dont_know = dont_know or says_dont_know(text)
        latest = names_latest(text)
        words = item_words(text)
        if words:
            candidates, matched, basis = self._by_item(recent, words)
            if candidates:
                item = " ".join(matched[-MAX_ITEM_WORDS:])  # echoed back: keep it short
                if latest:
                    return OrderMatch(Found.ONE, candidates[:1], item, basis, recent)
                candidates = _narrowed(candidates, purpose)
                found = Found.ONE if len(candidates) == 1 else Found.SEVERAL
                return OrderMatch(found, candidates, item, basis, recent)
            if len(words) <= MAX_ITEM_WORDS and not dont_know:
                return OrderMatch(Found.NO_SUCH_ITEM, (), " ".join(words), recent=recent)
        if latest and recent:
            return OrderMatch(Found.ONE, (Candidate(recent[0]),), basis="latest", recent=recent)
        if dont_know:
            return OrderMatch(Found.DONT_KNOW, recent=recent)
        if purpose == "status":
            open_orders = [o for o in recent if o.status in OPEN_STATUSES]
            if len(open_orders) == 1:
                only = (Candidate(open_orders[0]),)
                return OrderMatch(Found.ONE, only, basis="only_open", recent=recent)
        return OrderMatch(Found.NOTHING, recent=recent)

    def _by_item(
        self, orders: tuple[Order, ...], words: list[str]
    ) -> tuple[tuple[Candidate, ...], list[str], str]:
        """The orders holding the item, the words that matched, and whether words or meaning
        found it."""
        scored: list[tuple[float, Order, OrderLine, list[str]]] = []
        for order in orders:
            for line in order.lines:
                score, hits = _word_score(words, line)
                if score > 0:
                    scored.append((score, order, line, hits))
        if scored:
            best = max(score for score, *_ in scored)
            top = [(order, line, hits) for score, order, line, hits in scored if score == best]
            matched = [w for w in words if any(w in hits for _, _, hits in top)]
            return _candidates(orders, top), matched, "item"
        if self._embed is None or len(words) > MAX_ITEM_WORDS:
            return (), [], ""
        return self._by_meaning(orders, words)

    def _by_meaning(
        self, orders: tuple[Order, ...], words: list[str]
    ) -> tuple[tuple[Candidate, ...], list[str], str]:
        names = sorted({line.description.lower() for order in orders for line in order.lines})
        if not names:
            return (), [], ""
        phrase = " ".join(words)
        vectors = self._name_vectors(names)
        said = _unit(np.asarray(self._embed([phrase]), dtype=np.float32))[0]  # type: ignore[misc]
        similarity = dict(zip(names, (vectors @ said).tolist(), strict=True))
        best = max(similarity.values())
        if best < MEANING_FLOOR:
            return (), [], ""
        close = {name for name, s in similarity.items() if s >= best - MEANING_MARGIN}
        top = [
            (order, line, words)
            for order in orders
            for line in order.lines
            if line.description.lower() in close
        ]
        return _candidates(orders, top), words, "meaning"

    def _name_vectors(self, names: list[str]) -> np.ndarray:
        """The product names' vectors, each encoded once per process (finds run in worker
        threads at once: each reads its own copy of what it needs)."""
        known = {name: self._vectors.get(name) for name in names}
        missing = [name for name, vector in known.items() if vector is None]
        if missing:
            assert self._embed is not None
            fresh = dict(
                zip(missing, _unit(np.asarray(self._embed(missing), np.float32)), strict=True)
            )
            known.update(fresh)
            if len(self._vectors) > 50_000:  # a catalogue's worth; never grows without end
                self._vectors.clear()
            self._vectors.update(fresh)
        return np.stack([known[name] for name in names])


def _candidates(
    orders: tuple[Order, ...], top: list[tuple[Order, OrderLine, list[str]]]
) -> tuple[Candidate, ...]:
    """One candidate per order, newest first; its line only when one line of it fits."""
    lines: dict[str, list[OrderLine]] = {}
    for order, line, _ in top:
        lines.setdefault(order.id, []).append(line)
    return tuple(
        Candidate(order, lines[order.id][0] if len(lines[order.id]) == 1 else None)
        for order in orders
        if order.id in lines
    )


def _narrowed(candidates: tuple[Candidate, ...], purpose: str | None) -> tuple[Candidate, ...]:
    """The candidates the purpose can be about, when that leaves any."""
    wanted = _PREFERRED.get(purpose or "")
    if wanted is None or len(candidates) < 2:
        return candidates
    kept = tuple(c for c in candidates if wanted(c.order))
    return kept or candidates


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
