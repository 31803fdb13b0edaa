"""Product categories derived from descriptions.

An order export like the Online Retail file carries no category, yet support staff, segment
reports and the recommender's item features all need one. The shop's descriptions are short
noun phrases ("JUMBO BAG RED RETROSPOT", "SET OF 3 CAKE TINS PANTRY DESIGN"), so the head
noun decides the category well. The first matching rule wins, which lets seasonal ranges
("CHRISTMAS ... CANDLE") take precedence over the object type.
"""

from __future__ import annotations

import re

OTHER = "Other"

_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Christmas",
        (
            "christmas",
            "xmas",
            "advent",
            "santa",
            "reindeer",
            "snowflake",
            "bauble",
            "feather tree",
            "holly",
        ),
    ),
    ("Easter", ("easter", "bunny", "chick")),
    ("Bags", ("bag", "tote", "purse", "backpack", "shopper", "rucksack")),
    ("Gift wrap & cards", ("wrap", "card", "tissue", "ribbon", "gift tag", "envelope", "tape")),
    ("Crafts", ("sewing", "feltcraft", "crochet", "paint", "knitting", "craft", "tattoo", "chalk")),
    (
        "Baking",
        ("cake", "baking", "cupcake", "muffin", "biscuit", "cookie", "pastry", "apron", "jelly"),
    ),
    (
        "Tableware",
        (
            "mug",
            "cup",
            "plate",
            "bowl",
            "teapot",
            "saucer",
            "glass",
            "napkin",
            "tray",
            "beaker",
            "cutlery",
            "straw",
            "bottle",
            "jug",
            "coaster",
        ),
    ),
    ("Kitchen", ("tin", "jar", "kitchen", "tea towel", "lunch", "spoon", "chopping", "measuring")),
    (
        "Lighting & candles",
        ("candle", "t-light", "tealight", "lantern", "light", "lamp", "incense", "holder"),
    ),
    ("Party", ("party", "bunting", "balloon", "garland", "paper chain", "pom pom", "confetti")),
    (
        "Stationery",
        (
            "pen",
            "pencil",
            "notebook",
            "sticker",
            "journal",
            "eraser",
            "ruler",
            "calendar",
            "diary",
            "book",
            "slate",
        ),
    ),
    (
        "Toys & games",
        ("toy", "game", "doll", "puzzle", "jigsaw", "skittles", "spinning", "playing", "dominoes"),
    ),
    (
        "Jewellery & accessories",
        (
            "necklace",
            "bracelet",
            "earring",
            "ring",
            "hair",
            "brooch",
            "charm",
            "umbrella",
            "scarf",
            "glove",
            "bangle",
            "hat",
            "slipper",
            "luggage tag",
        ),
    ),
    ("Garden", ("garden", "plant", "flower pot", "watering", "bird", "herb", "seed", "planter")),
    (
        "Home decor",
        (
            "sign",
            "frame",
            "clock",
            "mirror",
            "doorstop",
            "doormat",
            "cushion",
            "wall",
            "hook",
            "hanging",
            "heart",
            "ornament",
            "decoration",
            "vase",
            "wreath",
            "magnet",
            "rack",
            "knob",
        ),
    ),
    (
        "Storage",
        (
            "box",
            "boxes",
            "basket",
            "storage",
            "drawer",
            "cabinet",
            "crate",
            "hamper",
            "case",
            "tidy",
        ),
    ),
    (
        "Textiles & bath",
        ("blanket", "throw", "towel", "hot water bottle", "hand warmer", "quilt", "bath", "sponge"),
    ),
)
_PATTERNS = tuple(
    (category, re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")s?\b"))
    for category, words in _RULES
)


def categorise(description: str) -> str:
    """The shop category of a product description, or "Other"."""
    text = description.lower()
    for category, pattern in _PATTERNS:
        if pattern.search(text):
            return category
    return OTHER


CATEGORIES: tuple[str, ...] = (*(category for category, _ in _RULES), OTHER)
