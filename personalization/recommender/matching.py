"""Picks that keep what the customer asked for, in the customer's personal order.

The catalogue is filtered first (category, budget, exclusions: hard), then ordered: products
not shown yet before those shown, an occasion's or recipient's preferred categories before
others (`personalization.support.shopping_words`), products like the one the customer
pointed at before the rest, stated taste, and finally the personal ranking (model or
popularity) the recommender would have used anyway.

When nothing fits, one constraint is relaxed, and the result says which: the budget first
(a ceiling raised to at most double, "under £6" for "under £3"; else the products nearest
in price), then the category (the budget kept, across the shop). An exclusion is never
relaxed: the customer said no.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from personalization.store import Database
from personalization.support.shopping_request import ShoppingRequest

# Enough for the whole catalogue of the Online Retail export under any one category.
CANDIDATE_LIMIT = 5000
_STOP_WORDS = {"set", "of", "and", "the", "with", "in", "for", "pack", "small", "large", "a"}


@dataclass(frozen=True)
class Picks:
    items: list[dict[str, Any]]
    relaxed: str | None  # "budget" or "category" when one was relaxed to find anything
    # What every item keeps: the request, with the relaxed constraint widened (a raised
    # ceiling) or dropped (no budget: the nearest in price; no category: across the shop).
    kept: ShoppingRequest


def taste_misses(item: dict[str, Any], taste: dict[str, Any]) -> int:
    """How many of the stated interests and onboarding budget an item misses (0 to 2)."""
    interests, budget = taste.get("interests"), taste.get("budget")
    wrong_category = bool(interests) and item.get("category") not in interests
    too_dear = budget is not None and (item.get("unit_price") or 0) > budget
    return int(wrong_category) + int(too_dear)


def matching(db: Database, request: ShoppingRequest) -> list[dict[str, Any]]:
    """Catalogue products that keep the request's hard constraints, by stock code (the
    ranking passed to `ordered` decides their order; no join over every order line here).

    Category, price range and refused categories are filtered in SQL; refused words and the
    exact edges of the budget ("under" excludes the amount itself) by `ShoppingRequest.allows`,
    the one definition of fitting.
    """
    budget = request.budget
    with db.cursor() as cur:
        cur.execute(
            """SELECT p.stock_code, p.description, p.category,
                      p.unit_price::float AS unit_price
               FROM products p
               WHERE p.unit_price > 0
                 AND (%(category)s::text IS NULL OR p.category = %(category)s)
                 AND (%(low)s::numeric IS NULL OR p.unit_price >= %(low)s)
                 AND (%(high)s::numeric IS NULL OR p.unit_price <= %(high)s)
                 AND NOT coalesce(p.category, '') = ANY(%(refused)s)
               ORDER BY p.stock_code
               LIMIT %(limit)s""",
            {
                "category": request.category,
                "low": budget.low if budget else None,
                "high": budget.high if budget else None,
                "refused": sorted(request.excluded_categories()),
                "limit": CANDIDATE_LIMIT,
            },
        )
        rows = [dict(r) for r in cur.fetchall()]
    return [row for row in rows if request.allows(row)]


def name_words(description: str | None) -> set[str]:
    words = re.findall(r"[a-z]+", (description or "").lower())
    return {w for w in words if len(w) > 2 and w not in _STOP_WORDS}


def ordered(
    items: list[dict[str, Any]],
    request: ShoppingRequest,
    personal: Sequence[str],
    taste: dict[str, Any],
) -> list[dict[str, Any]]:
    """Items in the order to show them (see the module docstring). ``personal`` is the
    ranking, best first; items it does not hold keep their order in ``items``, after it."""
    position = {code: i for i, code in enumerate(personal)}
    seen = set(request.seen)
    ideas = request.gift_ideas
    liked = name_words(request.like.name) if request.like else set()

    def key(numbered: tuple[int, dict[str, Any]]) -> tuple[Any, ...]:
        index, item = numbered
        category = item.get("category")
        return (
            item["stock_code"] in seen,
            category != request.category and any(category in i.avoid for i in ideas),
            -len(liked & name_words(item.get("description"))),
            -sum(category in i.prefer for i in ideas),
            taste_misses(item, taste),
            position.get(item["stock_code"], len(position) + index),
        )

    return [item for _, item in sorted(enumerate(items), key=key)]


Finder = Callable[[ShoppingRequest], list[dict[str, Any]]]
"""The catalogue products that keep a request (`matching` on a database, a list in a test)."""


def pick(
    find: Finder,
    request: ShoppingRequest,
    personal: Sequence[str],
    taste: dict[str, Any],
    n: int,
) -> Picks:
    """Up to ``n`` products that keep the request, or, when none does, the request less one
    constraint (said in ``relaxed``), or nothing. The product the customer wants more like
    is never among them: they have it in front of them."""
    liked = request.like.stock_code if request.like else None

    def fitting(wanted: ShoppingRequest) -> list[dict[str, Any]]:
        found = [item for item in find(wanted) if item["stock_code"] != liked]
        return ordered(found, wanted, personal, taste)

    found = fitting(request)
    if found:
        return Picks(found[:n], None, request)
    if request.budget is not None:
        budget, loose = request.budget, request.without("budget")
        near = fitting(loose)
        raised = budget.raised(min(i["unit_price"] for i in near)) if near else None
        if raised is not None:
            within = [item for item in near if raised.fits(item["unit_price"])]
            return Picks(within[:n], "budget", replace(request, budget=raised))
        if near:
            closest = sorted(near, key=lambda item: budget.distance(item["unit_price"]))[:n]
            return Picks(sorted(closest, key=lambda item: item["unit_price"]), "budget", loose)
    if request.category is not None or request.like is not None:
        loose = request.without("category")
        found = fitting(loose)
        if found:
            return Picks(found[:n], "category", loose)
    return Picks([], None, request)
