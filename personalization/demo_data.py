"""Deterministic demo customers, so the embedded default has someone to talk to without any file.

The same seed always yields the same people, which keeps README examples and tests stable.
The first customers are fixed personas that the README and tests refer to by id.
"""

from __future__ import annotations

import hmac
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import psycopg2.extras

from personalization.help_center import HelpArticleRepository, load_articles
from personalization.pseudonym import pseudonym_key_from_env
from personalization.store import Database
from personalization.store.customers import Customer, CustomerRepository

PERSONAS: tuple[Customer, ...] = (
    Customer(
        "cust-0001",
        "Alice Martin",
        "alice.martin@example.com",
        "United Kingdom",
        "en",
        {"tone": "casual", "channel": "web"},
    ),
    Customer(
        "cust-0002",
        "Bruno Keller",
        "bruno.keller@example.com",
        "Germany",
        "en",
        {"tone": "formal", "channel": "email"},
    ),
    Customer(
        "cust-0003",
        "Chloé Dubois",
        "chloe.dubois@example.com",
        "France",
        "en",
        {"tone": "casual", "channel": "web"},
    ),
    Customer(
        "cust-0004",
        "Dev Patel",
        "dev.patel@example.com",
        "United Kingdom",
        "en",
        {"tone": "formal", "channel": "slack"},
    ),
)

_FIRST_NAMES = (
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Freya",
    "Leo",
    "Maya",
    "Arthur",
    "Sofia",
    "Luca",
    "Emma",
    "Jonas",
    "Ines",
    "Mateo",
    "Hannah",
    "Finn",
    "Lea",
    "Elias",
)
_LAST_NAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Wright",
    "Schmidt",
    "Muller",
    "Bernard",
    "Moreau",
    "Rossi",
    "Garcia",
    "Jansen",
    "Novak",
)
_COUNTRIES = (
    "United Kingdom",
    "United Kingdom",
    "United Kingdom",
    "Germany",
    "France",
    "EIRE",
    "Netherlands",
    "Spain",
    "Belgium",
    "Switzerland",
)


def demo_customers(count: int = 50, seed: int = 7) -> list[Customer]:
    rng = random.Random(seed)
    customers = list(PERSONAS[:count])
    for number in range(len(customers) + 1, count + 1):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        customers.append(
            Customer(
                id=f"cust-{number:04d}",
                display_name=f"{first} {last}",
                email=f"{first}.{last}.{number}@example.com".lower(),
                country=rng.choice(_COUNTRIES),
                language="en",
                preferences={
                    "tone": rng.choice(("formal", "casual")),
                    "channel": rng.choice(("web", "email", "slack")),
                },
            )
        )
    return customers


def load_demo_customers(repo: CustomerRepository, count: int = 50, seed: int = 7) -> int:
    """Upsert the demo customers; running it again changes nothing."""
    customers = demo_customers(count, seed)
    for customer in customers:
        repo.upsert(customer)
    return len(customers)


# The demo catalogue: (stock code, description, category, unit price).
DEMO_PRODUCTS: tuple[tuple[str, str, str, float], ...] = tuple(
    (f"D{100 + n}", description, category, price)
    for n, (description, category, price) in enumerate(
        (
            ("WHITE HANGING HEART T-LIGHT HOLDER", "Lighting & candles", 2.95),
            ("SCENTED CANDLE FIG AND CASSIS", "Lighting & candles", 6.50),
            ("GLASS STAR LANTERN FROSTED", "Lighting & candles", 8.25),
            ("BEESWAX PILLAR CANDLE SET OF 3", "Lighting & candles", 9.95),
            ("PAPER LAMPSHADE PALE BLUE", "Lighting & candles", 12.50),
            ("ENAMEL MUG VINTAGE ROSE", "Tableware", 4.25),
            ("STONEWARE CEREAL BOWL SAGE", "Tableware", 5.50),
            ("SET OF 4 LINEN NAPKINS NATURAL", "Tableware", 11.95),
            ("GLASS WATER CARAFE RIBBED", "Tableware", 14.00),
            ("BAMBOO SERVING TRAY LARGE", "Tableware", 16.50),
            ("REGENCY CAKESTAND 3 TIER", "Baking", 12.75),
            ("SET OF 3 CAKE TINS PANTRY DESIGN", "Baking", 7.95),
            ("CUPCAKE CASES RETROSPOT PACK OF 72", "Baking", 1.25),
            ("CHILDRENS APRON DOLLY GIRL", "Baking", 3.95),
            ("WOODEN ROLLING PIN BEECH", "Baking", 6.25),
            ("JUMBO BAG RED RETROSPOT", "Bags", 1.95),
            ("LUNCH BAG BLACK SKULL", "Bags", 1.65),
            ("CANVAS SHOPPER STRIPED", "Bags", 8.50),
            ("WOVEN MARKET BASKET BAG", "Bags", 18.95),
            ("SET OF 6 GIFT WRAP SHEETS FLORAL", "Gift wrap & cards", 3.50),
            ("BIRTHDAY CARD BALLOONS", "Gift wrap & cards", 2.25),
            ("KRAFT GIFT TAGS PACK OF 20", "Gift wrap & cards", 2.95),
            ("SATIN RIBBON REEL IVORY", "Gift wrap & cards", 2.50),
            ("PARTY BUNTING VINTAGE FLORAL", "Party", 4.95),
            ("PAPER CHAIN KIT 50S CHRISTMAS", "Christmas", 2.95),
            ("FELT REINDEER DECORATION", "Christmas", 3.25),
            ("ADVENT CALENDAR WOODEN HOUSE", "Christmas", 24.95),
            ("GLASS BAUBLES SET OF 12 GOLD", "Christmas", 9.50),
            ("CHRISTMAS WREATH EUCALYPTUS", "Christmas", 22.00),
            ("EASTER HEN DECORATION CERAMIC", "Easter", 4.50),
            ("NOTEBOOK A5 LINEN COVER", "Stationery", 5.95),
            ("PENCIL SET GRAPHITE 12", "Stationery", 4.25),
            ("WALL CALENDAR BOTANICAL", "Stationery", 9.95),
            ("PACK OF 72 RETROSPOT STICKERS", "Stationery", 1.45),
            ("WOODEN SKITTLES GARDEN GAME", "Toys & games", 15.95),
            ("JIGSAW PUZZLE 1000 MAP OF EUROPE", "Toys & games", 14.50),
            ("SPINNING TOP TRADITIONAL WOOD", "Toys & games", 3.95),
            ("FELTCRAFT DOLL ROSIE", "Crafts", 5.25),
            ("DELUXE SEWING KIT", "Crafts", 7.95),
            ("SILVER BEAD BRACELET", "Jewellery & accessories", 12.95),
            ("WOOL SCARF HEATHER GREY", "Jewellery & accessories", 19.50),
            ("POLKADOT UMBRELLA RED", "Jewellery & accessories", 11.25),
            ("HERB GARDEN SEED KIT", "Garden", 6.95),
            ("ZINC WATERING CAN SMALL", "Garden", 13.50),
            ("TERRACOTTA PLANTER SET OF 3", "Garden", 10.95),
            ("BIRD FEEDER HANGING METAL", "Garden", 8.75),
            ("WALL CLOCK RETRO KITCHEN", "Home decor", 17.95),
            ("PHOTO FRAME CORNICE WHITE", "Home decor", 6.95),
            ("DOORMAT HOME SWEET HOME", "Home decor", 9.95),
            ("VELVET CUSHION COVER MUSTARD", "Home decor", 12.95),
            ("ROUND MIRROR BRASS FRAME", "Home decor", 29.95),
            ("CERAMIC VASE SPECKLED", "Home decor", 15.50),
            ("STORAGE BASKET SEAGRASS", "Storage", 14.95),
            ("SET OF 3 NESTING BOXES FLORAL", "Storage", 9.25),
            ("SPICE JARS SET OF 6", "Kitchen", 8.95),
            ("TEA TOWEL PANTRY DESIGN", "Kitchen", 3.25),
            ("BREAD BIN ENAMEL CREAM", "Kitchen", 24.50),
            ("HOT WATER BOTTLE KNITTED COVER", "Textiles & bath", 11.95),
            ("WAFFLE BATH TOWEL WHITE", "Textiles & bath", 13.95),
            ("THROW BLANKET HERRINGBONE", "Textiles & bath", 34.95),
        )
    )
)
_CATEGORIES = sorted({category for _, _, category, _ in DEMO_PRODUCTS})

# Order histories that make each persona a recognisable segment.
_PERSONA_HISTORY: dict[str, tuple[int, int, tuple[str, ...]]] = {
    # customer: (orders, days since the last order, favourite categories)
    "cust-0001": (14, 1, ("Lighting & candles", "Home decor")),  # frequent, a parcel on its way
    "cust-0002": (6, 240, ("Kitchen", "Baking")),  # used to buy, gone quiet
    "cust-0003": (1, 6, ("Stationery", "Gift wrap & cards")),  # first order last week
    "cust-0004": (8, 9, ("Garden", "Toys & games")),  # steady; the last parcel is late
}
# Customers whose latest order was shipped but is overdue (for the late-delivery journey).
_LATE_PERSONAS = {"cust-0004"}


def _reference_time() -> datetime:
    """Orders are dated relative to today, so parcels "on their way" are really on their way."""
    return datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class DemoOrder:
    id: str
    customer_id: str
    ordered_at: datetime
    status: str
    expected_delivery: date | None
    lines: tuple[tuple[str, int, float], ...]  # stock code, quantity, unit price

    @property
    def total(self) -> float:
        return round(sum(q * p for _, q, p in self.lines), 2)


def order_prefixes(customers: list[Customer], key: bytes) -> dict[str, str]:
    """Each customer's four-digit order prefix (``DEMO-4821-14``), from a keyed hash.

    An order number is what proves a customer in the in-chat sign-in, so it must not follow
    from the customer number: without the installation's key, a prefix is a guess among 9,000,
    and the sign-in allows five guesses per customer in 15 minutes. Prefixes are unique.
    """
    prefixes: dict[str, str] = {}
    taken: set[str] = set()
    for customer in customers:
        attempt = 0
        while True:
            digest = hmac.new(key, f"demo-orders:{customer.id}:{attempt}".encode(), "sha256")
            prefix = str(1000 + int.from_bytes(digest.digest()[:4], "big") % 9000)
            if prefix not in taken:
                break
            attempt += 1
        taken.add(prefix)
        prefixes[customer.id] = prefix
    return prefixes


def demo_order_id(customer_id: str, number: int, key: bytes | None = None) -> str:
    """The id of a demo customer's ``number``-th order (1 is the oldest)."""
    customers = demo_customers()
    # Always over the whole demo list first, so a customer's prefix does not depend on which
    # customers are loaded with them.
    everyone = list({c.id: c for c in [*demo_customers(), *customers]}.values())
    prefixes = order_prefixes(everyone, key or pseudonym_key_from_env())
    return f"DEMO-{prefixes[customer_id]}-{number:02d}"


def demo_orders(
    customers: list[Customer],
    seed: int = 7,
    reference: datetime | None = None,
    key: bytes | None = None,
) -> list[DemoOrder]:
    """A year of orders; every fifth generated customer has none (a new visitor's profile).

    Order numbers are keyed by ``key`` (PSEUDONYM_KEY unless given; see ``order_prefixes``).
    """
    reference = reference or _reference_time()
    # Always over the whole demo list first, so a customer's prefix does not depend on which
    # customers are loaded with them.
    everyone = list({c.id: c for c in [*demo_customers(), *customers]}.values())
    prefixes = order_prefixes(everyone, key or pseudonym_key_from_env())
    rng = random.Random(seed * 7919)
    by_category: dict[str, list[tuple[str, str, str, float]]] = {}
    for product in DEMO_PRODUCTS:
        by_category.setdefault(product[2], []).append(product)
    orders: list[DemoOrder] = []
    for n, customer in enumerate(customers):
        if customer.id in _PERSONA_HISTORY:
            count, last_days, favourites = _PERSONA_HISTORY[customer.id]
        elif n % 5 == 4:
            continue
        else:
            count, last_days = rng.randint(1, 10), rng.choice((2, 10, 25, 60, 120, 200, 300))
            favourites = tuple(rng.sample(_CATEGORIES, 2))
        days = sorted({last_days, *(rng.randint(last_days, 360) for _ in range(count - 1))})
        for k, days_ago in enumerate(reversed(days)):
            ordered_at = reference - timedelta(days=days_ago, hours=rng.randint(0, 9))
            lines = []
            for code, _, _, price in _pick_products(rng, by_category, favourites):
                lines.append((code, rng.choice((1, 1, 2, 3, 6)), price))
            status, expected = "delivered", None
            if days_ago <= 2:
                status, expected = "shipped", (ordered_at + timedelta(days=4)).date()
            elif days_ago <= 5:
                status, expected = "delivered", (ordered_at + timedelta(days=3)).date()
            if customer.id in _LATE_PERSONAS and k == len(days) - 1:
                status, expected = "shipped", (ordered_at + timedelta(days=4)).date()
            orders.append(
                DemoOrder(
                    f"DEMO-{prefixes[customer.id]}-{k + 1:02d}",
                    customer.id,
                    ordered_at,
                    status,
                    expected,
                    tuple(lines),
                )
            )
    return orders


def _pick_products(
    rng: random.Random,
    by_category: dict[str, list[tuple[str, str, str, float]]],
    favourites: tuple[str, ...],
) -> list[tuple[str, str, str, float]]:
    picked: dict[str, tuple[str, str, str, float]] = {}
    for _ in range(rng.randint(1, 4)):
        category = rng.choice(favourites) if rng.random() < 0.75 else rng.choice(_CATEGORIES)
        product = rng.choice(by_category[category])
        picked[product[0]] = product
    return list(picked.values())


def load_demo_shop(
    db: Database, customers: list[Customer], seed: int = 7, key: bytes | None = None
) -> dict[str, int]:
    """Catalogue, orders and help articles of the demo shop; running it again changes nothing.

    ``key`` numbers the orders (PSEUDONYM_KEY from the environment unless given).
    """
    orders = demo_orders(customers, seed, key=key)
    with db.cursor() as cur:
        psycopg2.extras.execute_values(
            cur,
            """INSERT INTO products (stock_code, description, category, unit_price) VALUES %s
               ON CONFLICT (stock_code) DO NOTHING""",
            DEMO_PRODUCTS,
        )
        psycopg2.extras.execute_values(
            cur,
            """INSERT INTO orders (id, customer_id, ordered_at, country, status,
                                   expected_delivery, total)
               SELECT v.id, v.customer_id, v.ordered_at::timestamptz, c.country, v.status,
                      v.expected::date, v.total::numeric
               FROM (VALUES %s) AS v (id, customer_id, ordered_at, status, expected, total)
               JOIN customers c ON c.id = v.customer_id
               ON CONFLICT (id) DO NOTHING""",
            [
                (o.id, o.customer_id, o.ordered_at, o.status, o.expected_delivery, o.total)
                for o in orders
            ],
        )
        psycopg2.extras.execute_values(
            cur,
            """INSERT INTO order_lines (order_id, line_no, stock_code, quantity, unit_price)
               SELECT v.order_id, v.line_no, v.stock_code, v.quantity, v.unit_price::numeric
               FROM (VALUES %s) AS v (order_id, line_no, stock_code, quantity, unit_price)
               JOIN orders o ON o.id = v.order_id
               ON CONFLICT DO NOTHING""",
            [
                (o.id, n, code, quantity, price)
                for o in orders
                for n, (code, quantity, price) in enumerate(o.lines, start=1)
            ],
        )
    articles = HelpArticleRepository(db).upsert(load_articles())
    return {"products": len(DEMO_PRODUCTS), "orders": len(orders), "articles_changed": articles}
