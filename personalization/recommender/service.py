"""Product recommendations for one customer: cache, model, and fallbacks that never run dry.

Order of answers, first that applies:

1. the Redis cache for the active model version;
2. the model, for a customer it was trained on (new items only);
3. the model, from the customer's features (country, segment, preferences) if it was not;
4. what the customer's segment, then their country, bought most recently;
5. what everyone bought most recently, and finally any products of the catalogue.

A customer who withdrew consent to personalization gets step 5 only. Each answer says which
step produced it, so the conversation and the logs can tell personal from generic.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from personalization.profile import profile_row
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.data import profile_features
from personalization.recommender.model import HybridModel
from personalization.recommender.registry import ModelRegistry, RegistryError
from personalization.store import Database

log = logging.getLogger(__name__)

POPULARITY_DAYS = 90
POPULARITY_MEMO_S = 600.0
NO_CONSENT_SOURCE = "popularity (no personalization)"


@dataclass
class Recommendations:
    customer_id: str
    items: list[dict[str, Any]]
    source: str
    model_version: str | None
    cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def personal(self) -> bool:
        """False for the popularity answer given without consent."""
        return self.source != NO_CONSENT_SOURCE


@dataclass
class _Profile:
    exists: bool
    country: str | None = None
    segment: str | None = None
    preferences: dict[str, Any] = field(default_factory=dict)
    consent: bool = True


def stated_taste(preferences: dict[str, Any] | None) -> dict[str, Any]:
    """Interests and budget a customer told us (onboarding), if any."""
    preferences = preferences or {}
    taste: dict[str, Any] = {}
    if preferences.get("interests"):
        taste["interests"] = {str(i) for i in preferences["interests"]}
    if isinstance(preferences.get("budget"), (int, float)) and preferences["budget"] > 0:
        taste["budget"] = float(preferences["budget"])
    return taste


def prefer(items: list[dict[str, Any]], taste: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Items in the stated interests and within budget first, keeping the model's order."""
    interests, budget = taste.get("interests"), taste.get("budget")

    def misses(item: dict[str, Any]) -> int:
        wrong_category = bool(interests) and item.get("category") not in interests
        too_dear = budget is not None and (item.get("unit_price") or 0) > budget
        return int(wrong_category) + int(too_dear)

    return sorted(items, key=misses)[:n]


def reason_for(
    item: dict[str, Any],
    source: str,
    country: str | None,
    taste: dict[str, Any],
    because: dict[str, str],
) -> str:
    """One line on why an item is shown, from the most specific evidence there is."""
    interests, budget = taste.get("interests") or set(), taste.get("budget")
    if item.get("category") in interests:
        within = budget is not None and (item.get("unit_price") or 0) <= budget
        return f"Matches your interest in {item['category']}" + (
            f" and your £{budget:g} budget" if within else ""
        )
    bought = because.get(item["stock_code"])
    if bought:
        return f"Because you bought {bought.strip().capitalize()}"
    if source in ("model", "features", "segment popularity"):
        return "Customers like you also bought this"
    if source == "country popularity" and country:
        return f"Popular with shoppers in {country}"
    return "One of our best sellers right now"


class RecommendationService:
    def __init__(
        self,
        db: Database,
        registry: ModelRegistry,
        cache: RecommendationCache | None = None,
    ) -> None:
        self._db, self._registry, self._cache = db, registry, cache
        self._model: HybridModel | None = None
        self._model_version: str | None = None
        self._broken_version: str | None = None
        self._popular: dict[tuple[str, str], tuple[float, list[str]]] = {}

    def _active_model(self) -> tuple[str | None, HybridModel | None]:
        version = self._registry.current_version()
        if version is None:
            return None, None
        if version == self._broken_version:
            return None, None
        if version != self._model_version:
            try:
                self._model = self._registry.load(version)
            except (RegistryError, OSError) as exc:
                log.error("recommender unavailable, answering with popularity: %s", exc)
                self._broken_version = version
                return None, None
            self._model_version = version
        return version, self._model

    def recommend(self, customer_id: str, n: int = 5) -> Recommendations:
        if n < 1:
            raise ValueError("n must be at least 1")
        version, model = self._active_model()
        # Consent is read on every call, so a withdrawal takes effect before any cache entry
        # expires.
        profile = self._profile(customer_id)
        cache = self._cache if profile.exists and profile.consent else None
        cache_version = version or "none"
        if cache is not None:
            hit = cache.get(cache_version, customer_id)
            if hit is not None and len(hit["items"]) >= n:
                hit["items"] = hit["items"][:n]
                return Recommendations(**{**hit, "cached": True})
        taste = stated_taste(profile.preferences) if profile.consent else {}
        codes, source = self._rank(customer_id, profile, model, n * 6 if taste else n)
        items = self._describe(codes)
        if taste:
            items = prefer(items + self._matching_taste(taste, codes, n), taste, n)
        items = items[:n]
        self._explain(items, customer_id, source, profile, model, taste)
        if taste:
            source = f"{source} + stated preferences"
        result = Recommendations(customer_id, items, source, version)
        if cache is not None:
            cache.put(cache_version, customer_id, result.as_dict())
        return result

    def _rank(
        self, customer_id: str, profile: _Profile, model: HybridModel | None, n: int
    ) -> tuple[list[str], str]:
        if not profile.consent:
            return self._popular_items("all", "", n, set()), NO_CONSENT_SOURCE
        if model is not None:
            features = profile_features(profile.country, profile.segment, profile.preferences)
            found = model.top_items(customer_id, features, n)
            if found is not None and len(found[0]) >= n:
                return found
        owned = self._owned(customer_id)
        for scope, value in (("segment", profile.segment), ("country", profile.country)):
            if value:
                items = self._popular_items(scope, value, n, owned)
                if len(items) >= n:
                    return items, f"{scope} popularity"
        return self._popular_items("all", "", n, owned), "popularity"

    def _explain(
        self,
        items: list[dict[str, Any]],
        customer_id: str,
        source: str,
        profile: _Profile,
        model: HybridModel | None,
        taste: dict[str, Any],
    ) -> None:
        """Give each item a ``reason`` the customer can understand ("why this")."""
        because: dict[str, str] = {}
        if source == "model" and model is not None:
            closest = model.closest_owned(customer_id, [i["stock_code"] for i in items])
            names = {
                d["stock_code"]: d.get("description")
                for d in self._describe(sorted(set(closest.values())))
            }
            because = {code: names[owned] for code, owned in closest.items() if names.get(owned)}
        for item in items:
            item["reason"] = reason_for(item, source, profile.country, taste, because)

    def _profile(self, customer_id: str) -> _Profile:
        with self._db.cursor() as cur:
            row = profile_row(cur, customer_id)
        if row is None:
            return _Profile(exists=False)
        return _Profile(True, row["country"], row["segment"], row["preferences"], row["allowed"])

    def _owned(self, customer_id: str) -> set[str]:
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT DISTINCT l.stock_code FROM orders o
                   JOIN order_lines l ON l.order_id = o.id WHERE o.customer_id = %s""",
                (customer_id,),
            )
            return {r["stock_code"] for r in cur.fetchall()}

    def _popular_items(self, scope: str, value: str, n: int, owned: set[str]) -> list[str]:
        ranked = self._popularity(scope, value)
        return [code for code in ranked if code not in owned][:n]

    def _popularity(self, scope: str, value: str) -> list[str]:
        """Products by recent buyers within a scope, memoised for a few minutes."""
        memo = self._popular.get((scope, value))
        if memo is not None and time.monotonic() - memo[0] < POPULARITY_MEMO_S:
            return memo[1]
        joins = {
            "segment": "JOIN segment_assignments s ON s.customer_id = o.customer_id "
            "AND s.segment = %(value)s",
            "country": "JOIN customers c ON c.id = o.customer_id AND c.country = %(value)s",
            "all": "",
        }[scope]
        with self._db.cursor() as cur:
            cur.execute(
                f"""SELECT l.stock_code FROM order_lines l
                    JOIN orders o ON o.id = l.order_id {joins}
                    WHERE o.ordered_at >= (SELECT max(ordered_at) FROM orders)
                                          - make_interval(days => %(days)s)
                    GROUP BY l.stock_code
                    ORDER BY count(DISTINCT o.customer_id) DESC, l.stock_code
                    LIMIT 200""",
                {"value": value, "days": POPULARITY_DAYS},
            )
            ranked = [r["stock_code"] for r in cur.fetchall()]
            if scope == "all" and len(ranked) < 200:
                cur.execute("SELECT stock_code FROM products ORDER BY stock_code LIMIT 200")
                ranked += [r["stock_code"] for r in cur.fetchall() if r["stock_code"] not in ranked]
        self._popular[(scope, value)] = (time.monotonic(), ranked)
        return ranked

    def _matching_taste(
        self, taste: dict[str, Any], already: list[str], n: int
    ) -> list[dict[str, Any]]:
        """Catalogue products in the stated interests and budget, best sellers first, so a
        new customer's answers are used even where the model knows little about them."""
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT p.stock_code, p.description, p.category, p.unit_price::float AS unit_price
                   FROM products p LEFT JOIN order_lines l ON l.stock_code = p.stock_code
                   WHERE (%(cats)s::text[] IS NULL OR p.category = ANY(%(cats)s))
                     AND (%(budget)s::numeric IS NULL OR p.unit_price <= %(budget)s)
                     AND NOT p.stock_code = ANY(%(already)s)
                   GROUP BY p.stock_code ORDER BY count(l.order_id) DESC, p.stock_code
                   LIMIT %(n)s""",
                {
                    "cats": sorted(taste["interests"]) if taste.get("interests") else None,
                    "budget": taste.get("budget"),
                    "already": already,
                    "n": n,
                },
            )
            return [dict(r) for r in cur.fetchall()]

    def _describe(self, codes: list[str]) -> list[dict[str, Any]]:
        if not codes:
            return []
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT stock_code, description, category, unit_price::float AS unit_price
                   FROM products WHERE stock_code = ANY(%s)""",
                (codes,),
            )
            found = {r["stock_code"]: dict(r) for r in cur.fetchall()}
        return [found.get(code, {"stock_code": code}) for code in codes]
