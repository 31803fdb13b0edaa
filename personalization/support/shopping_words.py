"""The words customers shop with, as data: what names a category, an occasion or a recipient.

Edit these tables, not the parser (`personalization.support.shopping_request`), to teach the
assistant a new phrasing or a better gift idea. Patterns are regular expressions matched on
lower-cased text at word boundaries; every category named must be one of
`personalization.catalogue.CATEGORIES`.

Gift mapping (occasions and recipients). An occasion or a recipient never filters: it
orders. Products in its ``prefer`` categories come first (those preferred by both the
occasion and the recipient before those preferred by one), products in its ``avoid``
categories last, and the customer's personal order decides within each group. So "a gift for
my mum under £15" still never breaks the £15, and a child's gift shows toys before candles.

In short (the tables below are the truth):

- housewarming, wedding: home decor, kitchen, candles, tableware first;
- birthday, Valentine's: jewellery and accessories, candles, home decor first;
- a Christmas present: the Christmas range, candles, textiles first;
- mum, gran: home decor, candles, textiles and bath, garden, kitchen first;
- dad, grandad: garden, games and puzzles, kitchen, tableware first;
- a child: toys and games, crafts, stationery first; candles, kitchen and glass last;
- every gift: gift wrap and cards last (they go with a gift, they are not one).
"""

from __future__ import annotations

from dataclasses import dataclass

# Words that name a whole shop category ("something for the kitchen", "candles", "kitchen
# stuff"). Saying one asks for the category; "not candles" leaves the category out. Words for
# one kind of object ("mugs", "lanterns") are not here: asked for, they point to their
# category through `personalization.catalogue.categorise`; refused ("no mugs"), only
# products with that word in their name are left out.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "Kitchen": (r"kitchen\w*", r"cook(?:s|ing|ery)?", r"chefs?"),
    "Baking": (r"bak(?:e|es|ing|er|ers)", r"bakeware"),
    "Tableware": (r"tableware", r"dining", r"dinnerware", r"crockery", r"for the table"),
    "Lighting & candles": (
        r"candles?",
        r"candlelight",
        r"lighting",
        r"lights",
        r"lamps?",
        r"lighting (?:&|and) candles",
    ),
    "Garden": (r"garden(?:s|ing|er|ers)?", r"outdoors?", r"plants", r"plant lovers?"),
    "Stationery": (r"stationery", r"stationary", r"writing", r"desk", r"office"),
    "Toys & games": (r"toys?", r"games", r"puzzles", r"toys (?:&|and) games"),
    "Jewellery & accessories": (r"jewell?e?ry", r"jewelry", r"accessor(?:y|ies)"),
    "Home decor": (r"home ?d[eé]cor", r"d[eé]cor", r"for the (?:home|house)", r"living room"),
    "Storage": (r"storage", r"organi[sz](?:ing|ation|ers?)", r"tidying"),
    "Textiles & bath": (r"bath(?:room)?", r"textiles?", r"towels", r"blankets", r"cos[yz]"),
    "Bags": (r"bags",),
    "Gift wrap & cards": (r"gift ?wrap(?:ping)?", r"wrapping(?: paper)?", r"greeting cards?"),
    "Crafts": (r"crafts?", r"crafting", r"crafty", r"sewing", r"knitting", r"diy"),
    "Party": (r"part(?:y|ies)", r"party supplies"),
    "Christmas": (r"christmas", r"xmas", r"festive"),
    "Easter": (r"easter",),
}

# How a category is named in a reply ("kitchen picks under £15").
CATEGORY_LABELS: dict[str, str] = {
    "Kitchen": "kitchen",
    "Baking": "baking",
    "Tableware": "tableware",
    "Lighting & candles": "candle and lighting",
    "Garden": "garden",
    "Stationery": "stationery",
    "Toys & games": "toy and game",
    "Jewellery & accessories": "jewellery and accessory",
    "Home decor": "home decor",
    "Storage": "storage",
    "Textiles & bath": "textile and bath",
    "Bags": "bag",
    "Gift wrap & cards": "gift wrap and card",
    "Crafts": "craft",
    "Party": "party",
    "Christmas": "Christmas",
    "Easter": "Easter",
}

_WRAP = "Gift wrap & cards"


@dataclass(frozen=True)
class GiftIdea:
    """What suits an occasion or a recipient: categories first, categories last."""

    label: str
    patterns: tuple[str, ...]
    prefer: tuple[str, ...]
    avoid: tuple[str, ...] = (_WRAP,)


# Occasions, checked in this order; the label heads the reply ("housewarming gift ideas").
OCCASIONS: dict[str, GiftIdea] = {
    "housewarming": GiftIdea(
        "housewarming gift ideas",
        (
            r"house ?warming",
            r"new (?:home|house|flat|place)",
            r"mov(?:e|es|ed|ing) (?:in|house|home)",
        ),
        ("Home decor", "Kitchen", "Lighting & candles", "Tableware", "Garden", "Storage"),
        (_WRAP, "Party"),
    ),
    "mothers_day": GiftIdea(
        "Mother's Day gift ideas",
        (r"mother'?s'? day", r"mothering sunday"),
        ("Home decor", "Lighting & candles", "Textiles & bath", "Garden"),
    ),
    "fathers_day": GiftIdea(
        "Father's Day gift ideas",
        (r"father'?s'? day",),
        ("Garden", "Toys & games", "Kitchen", "Tableware"),
    ),
    "christmas": GiftIdea(
        "Christmas gift ideas",
        (
            r"(?:christmas|xmas) (?:gifts?|presents?|stocking)",
            r"stocking fillers?",
            r"secret santa",
        ),
        ("Christmas", "Lighting & candles", "Textiles & bath", "Home decor"),
    ),
    "birthday": GiftIdea(
        "birthday gift ideas",
        (r"birthday", r"b-?day"),
        ("Jewellery & accessories", "Lighting & candles", "Home decor", "Textiles & bath"),
    ),
    "wedding": GiftIdea(
        "wedding gift ideas",
        (r"wedding", r"engagement", r"newlyweds?", r"anniversary"),
        ("Tableware", "Home decor", "Kitchen", "Lighting & candles"),
        (_WRAP, "Party"),
    ),
    "new_baby": GiftIdea(
        "new baby gift ideas",
        (r"new baby", r"baby shower", r"christening", r"newborn"),
        ("Toys & games", "Textiles & bath"),
        (_WRAP, "Lighting & candles"),
    ),
    "valentines": GiftIdea(
        "Valentine's gift ideas",
        (r"valentine'?s?",),
        ("Jewellery & accessories", "Lighting & candles", "Home decor"),
    ),
    "thank_you": GiftIdea(
        "thank-you gift ideas",
        (r"thank[- ]you (?:gifts?|presents?)", r"to say thank(?:s| you)"),
        ("Lighting & candles", "Garden", "Stationery", "Tableware"),
    ),
}

# Recipients by group. A pattern's words are the person ("my mum"); the reply says "for your
# mum", echoing the customer's own word.
_MOTHERLY = ("Home decor", "Lighting & candles", "Textiles & bath", "Garden", "Kitchen")
_FATHERLY = ("Garden", "Toys & games", "Kitchen", "Tableware", "Bags")
_FRIENDLY = ("Lighting & candles", "Home decor", "Stationery", "Tableware")
_GROWN_UP_AVOID = (_WRAP, "Party")
RECIPIENTS: dict[str, GiftIdea] = {
    "mum": GiftIdea(
        "your mum",
        (r"mum", r"mom", r"mother", r"mam", r"mummy", r"mommy", r"mother-in-law"),
        (*_MOTHERLY, "Jewellery & accessories"),
        _GROWN_UP_AVOID,
    ),
    "gran": GiftIdea(
        "your gran",
        (r"gran", r"granny", r"grandma", r"grandmother", r"nan", r"nana", r"nanna"),
        _MOTHERLY,
        _GROWN_UP_AVOID,
    ),
    "dad": GiftIdea(
        "your dad",
        (r"dad", r"father", r"daddy", r"father-in-law"),
        _FATHERLY,
        _GROWN_UP_AVOID,
    ),
    "grandad": GiftIdea(
        "your grandad",
        (r"grandad", r"granddad", r"grandpa", r"grandfather"),
        _FATHERLY,
        _GROWN_UP_AVOID,
    ),
    "partner": GiftIdea(
        "your partner",
        (r"wife", r"husband", r"girlfriend", r"boyfriend", r"partner", r"fianc[eé]e?"),
        ("Jewellery & accessories", "Lighting & candles", "Textiles & bath", "Home decor"),
        _GROWN_UP_AVOID,
    ),
    "friend": GiftIdea(
        "a friend",
        (
            r"friends?",
            r"sister",
            r"brother",
            r"colleagues?",
            r"co-?workers?",
            r"boss",
            r"neighbou?rs?",
            r"hosts?",
            r"aunt(?:ie)?",
            r"uncle",
            r"cousin",
        ),
        _FRIENDLY,
        _GROWN_UP_AVOID,
    ),
    "teacher": GiftIdea(
        "a teacher",
        (r"teachers?", r"teaching assistant", r"nursery staff"),
        ("Stationery", "Lighting & candles", "Tableware", "Garden"),
        _GROWN_UP_AVOID,
    ),
    "child": GiftIdea(
        "a child",
        (
            r"child",
            r"children",
            r"kids?",
            r"son",
            r"daughter",
            r"niece",
            r"nephew",
            r"grand(?:son|daughter|child|children|kids?)",
            r"toddler",
            r"little (?:one|boy|girl)",
            r"(?:\d{1,2}|ten|eleven|twelve|[a-z]+) ?(?:-| )?year[- ]old",
            r"boy",
            r"girl",
            r"baby",
        ),
        ("Toys & games", "Crafts", "Stationery", "Party", "Easter"),
        (_WRAP, "Lighting & candles", "Kitchen", "Tableware"),
    ),
}
