"""Product recommendations for one customer: cache, model, and fallbacks that never run dry.

Order of answers, first that applies:

1. the Redis cache for the active model version;
2. the model, for a customer it was trained on (new items only);
3. the model, from the customer's features (country, segment, preferences) if it was not;
4. what the customer's segment, then their country, bought most recently;
5. what everyone bought most recently, and finally any products of the catalogue.

A customer who withdrew consent to personalization gets step 5 only. Each answer says which
step produced it, so the conversation and the logs can tell personal from generic.

A stated request ("kitchen picks under £15", `recommend_for`) keeps the same personal order
but never shows a product that breaks it (`personalization.recommender.matching`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from personalization.metrics import serve_model
from personalization.profile import profile_row
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.data import profile_features
from personalization.recommender.matching import matching, pick, taste_misses
from personalization.recommender.model import HybridModel
from personalization.recommender.registry import ModelRegistry, RegistryError
from personalization.store import Database
from personalization.support.shopping_request import ShoppingRequest

log = logging.getLogger(__name__)

POPULARITY_DAYS = 90
POPULARITY_MEMO_S = 600.0
# How often a process looks for a new or rewritten model (a file read, so cheap).
RELOAD_CHECK_S = 2.0
NO_CONSENT_SOURCE = "popularity (no personalization)"
# How much of the personal ranking orders the products that fit a stated request.
REQUEST_RANKING = 500


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
class RequestedRecommendations:
    """Picks for a stated request. ``request`` is what was asked (to keep for the next
    refinement); ``kept`` is what every item keeps, the request less the one constraint
    named in ``relaxed`` when nothing fitted it all."""

    customer_id: str
    request: ShoppingRequest
    items: list[dict[str, Any]]
    source: str
    model_version: str | None
    relaxed: str | None = None
    kept: ShoppingRequest | None = None

    @property
    def personal(self) -> bool:
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
    return sorted(items, key=lambda item: taste_misses(item, taste))[:n]


def reason_for(
    item: dict[str, Any],
    source: str,
    country: str | None,
    taste: dict[str, Any],
    because: dict[str, str],
) -> tuple[str, str]:
    """Why an item is shown, from the most specific evidence there is: its kind (what the
    insights page counts clicks by) and one line the customer can understand."""
    interests, budget = taste.get("interests") or set(), taste.get("budget")
    if item.get("category") in interests:
        within = budget is not None and (item.get("unit_price") or 0) <= budget
        return "stated_interest", f"Matches your interest in {item['category']}" + (
            f" and your £{budget:g} budget" if within else ""
        )
    bought = because.get(item["stock_code"])
    if bought:
        return "bought_before", f"Because you bought {bought.strip().capitalize()}"
    if source in ("model", "features", "segment popularity"):
        return "similar_customers", "Customers like you also bought this"
    if source == "country popularity" and country:
        return "country_popular", f"Popular with shoppers in {country}"
    return "best_seller", "One of our best sellers right now"


class RecommendationService:
    """Keeps one model loaded per process; it follows the registry within ``reload_check_s``.

    The registry's generation changes when a version is activated and when a version is
    rewritten to forget an erased customer, so a long-running process drops an erased
    customer's model rows within seconds, without a restart.
    """

    def __init__(
        self,
        db: Database,
        registry: ModelRegistry,
        cache: RecommendationCache | None = None,
        reload_check_s: float = RELOAD_CHECK_S,
    ) -> None:
        self._db, self._registry, self._cache = db, registry, cache
        self._reload_check_s = reload_check_s
        self._model: HybridModel | None = None
        self._model_version: str | None = None
        self._generation: str | None = None
        self._broken_generation: str | None = None
        self._checked_at: float | None = None
        self._popular: dict[tuple[str, str], tuple[float, list[str]]] = {}

    def _current_generation(self) -> str | None:
        """The registry's generation. The active version is read on every call (one readlink),
        the rewrite token at most every ``reload_check_s`` seconds."""
        version = self._registry.current_version()
        if version is None:
            return None
        known = self._generation or self._broken_generation
        now = time.monotonic()
        fresh = self._checked_at is not None and now - self._checked_at < self._reload_check_s
        if fresh and known is not None and known.split("/", 1)[0] == version:
            return known
        self._checked_at = now
        return self._registry.generation()

    def _active_model(self) -> tuple[str | None, HybridModel | None]:
        generation = self._current_generation()
        if generation is None:
            self._model, self._model_version, self._generation = None, None, None
            serve_model("recommender", None)
            return None, None
        if generation == self._broken_generation:
            return None, None
        if generation != self._generation:
            version = generation.split("/", 1)[0]
            try:
                model = self._registry.load(version)
            except (RegistryError, OSError) as exc:
                log.error("recommender unavailable, answering with popularity: %s", exc)
                self._model, self._model_version, self._generation = None, None, None
                serve_model("recommender", None)
                self._broken_generation = generation
                return None, None
            if self._model_version is not None:
                log.info("recommender reloaded: %s (was %s)", version, self._model_version)
            self._model, self._model_version, self._generation = model, version, generation
            serve_model("recommender", version)
        return self._model_version, self._model

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

    def recommend_for(
        self, customer_id: str, request: ShoppingRequest, n: int = 5
    ) -> RequestedRecommendations:
        """Up to ``n`` products that keep a stated request, in this customer's personal
        order; never cached, since requests vary from message to message."""
        if n < 1:
            raise ValueError("n must be at least 1")
        version, model = self._active_model()
        profile = self._profile(customer_id)
        taste = stated_taste(profile.preferences) if profile.consent else {}
        ranking, source = self._rank(customer_id, profile, model, REQUEST_RANKING, enough=1)
        # What the personal ranking does not reach, the shop's best sellers order.
        ranked = set(ranking)
        ranking = ranking + [c for c in self._popularity("all", "") if c not in ranked]
        picks = pick(lambda wanted: matching(self._db, wanted), request, ranking, taste, n)
        self._explain(picks.items, customer_id, source, profile, model, taste)
        if request.like is not None:
            for item in picks.items:
                if item.get("category") == request.like.category:
                    item["reason_kind"] = "like_product"
                    item["reason"] = f"Like the {request.like.name}"
        return RequestedRecommendations(
            customer_id, request, picks.items, source, version, picks.relaxed, picks.kept
        )

    def products(self, codes: list[str]) -> list[dict[str, Any]]:
        """Products in the order of ``codes`` (e.g. the list shown last); unknown codes are
        left out."""
        return [item for item in self._describe(codes) if item.get("description") is not None]

    def _rank(
        self,
        customer_id: str,
        profile: _Profile,
        model: HybridModel | None,
        n: int,
        enough: int | None = None,
    ) -> tuple[list[str], str]:
        """The top ``n`` from the first source with at least ``enough`` (default ``n``)."""
        enough = n if enough is None else enough
        if not profile.consent:
            return self._popular_items("all", "", n, set()), NO_CONSENT_SOURCE
        if model is not None:
            features = profile_features(profile.country, profile.segment, profile.preferences)
            found = model.top_items(customer_id, features, n)
            if found is not None and len(found[0]) >= enough:
                return found
        owned = self._owned(customer_id)
        for scope, value in (("segment", profile.segment), ("country", profile.country)):
            if value:
                items = self._popular_items(scope, value, n, owned)
                if len(items) >= enough:
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
            item["reason_kind"], item["reason"] = reason_for(
                item, source, profile.country, taste, because
            )

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
