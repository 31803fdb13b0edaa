"""Reading what customers ask the shop for, and merging refinements into the last request."""

from __future__ import annotations

from typing import Any

import pytest

from personalization.catalogue import CATEGORIES
from personalization.support.shopping_request import (
    Ask,
    Budget,
    ShoppingRequest,
    money,
    parse,
    refine,
)
from personalization.support.shopping_words import (
    CATEGORY_LABELS,
    CATEGORY_WORDS,
    OCCASIONS,
    RECIPIENTS,
)

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("gift for my mum under 15 pounds", "under £15"),
        ("less than £20", "under £20"),
        ("below 12.50", "under £12.50"),
        ("something under a tenner", "under £10"),
        ("under twenty pounds", "under £20"),
        ("cheaper than £8", "under £8"),
        ("max 30", "up to £30"),
        ("£30 max", "up to £30"),
        ("no more than £10", "up to £10"),
        ("up to 25 quid", "up to £25"),
        ("my budget is £40", "up to £40"),
        ("£15", "up to £15"),
        ("15 pounds", "up to £15"),
        ("twenty five pounds or less", "up to £25"),
        ("£10-£20", "£10–£20"),
        ("between 10 and 20 quid", "£10–£20"),
        ("from £5 to £12.50", "£5–£12.50"),
        ("10 - 20 pounds", "£10–£20"),
        ("around 25", "around £25"),
        ("about £30", "around £30"),
        ("roughly 40 pounds", "around £40"),
        ("£25ish", "around £25"),
        ("over £50", "over £50"),
        ("at least £20", "over £20"),
        ("something under 99p", "under £0.99"),
        ("a rug under £1,500", "under £1500"),
        ("between £1,000 and £2,500", "£1000–£2500"),
        ("under 12,50 pounds", "under £12.50"),
    ],
)
def test_budgets_in_many_phrasings(text: str, label: str) -> None:
    said = parse(text)
    assert said.budget is not None, text
    assert said.budget.label() == label


@pytest.mark.parametrize(
    "text",
    [
        "set of 3",
        "for a 5 year old",
        "more like the second one",
        "2 or more",
        "i need it in 3 days",
        "the 12 piece set",
        "a 1,000 piece puzzle",
        "gift ideas?",
    ],
)
def test_numbers_that_are_not_money_are_no_budget(text: str) -> None:
    assert parse(text).budget is None


def test_an_amount_entity_is_a_budget_when_the_words_give_none() -> None:
    assert parse("that", amounts=["£12"]).budget == Budget.up_to(12)
    assert parse("under £8", amounts=["£8"]).budget == Budget.under(8), "the words say more"


def test_budget_edges() -> None:
    assert not Budget.under(15).fits(15) and Budget.under(15).fits(14.99)
    assert Budget.up_to(15).fits(15) and not Budget.up_to(15).fits(15.01)
    assert Budget.around(25).fits(20) and Budget.around(25).fits(30)
    assert not Budget.around(25).fits(19.99)
    assert Budget.between(20, 10) == Budget.between(10, 20)
    assert not Budget.over(10).fits(10) and not Budget.under(10).fits(None)
    assert Budget.under(3).raised(3.25) == Budget.under(6)
    assert Budget.up_to(10).raised(19) == Budget.up_to(20)
    assert Budget.under(10).raised(20) == Budget.under(25), "under £20 would not let £20 in"
    assert Budget.under(1).raised(3.25) is None, "more than double: the cheapest instead"
    assert Budget.around(25).raised(40) is None
    assert (money(15.0), money(8.95), money(0.5)) == ("£15", "£8.95", "£0.50")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("something for the kitchen", "Kitchen"),
        ("kitchen stuff", "Kitchen"),
        ("can you recommend something for my kitchen under 20 pounds", "Kitchen"),
        ("candles", "Lighting & candles"),
        ("any candles you'd recommend?", "Lighting & candles"),
        ("something for the garden", "Garden"),
        ("my dad loves gardening", "Garden"),
        ("gift ideas for a friend who loves baking", "Baking"),
        ("stationery", "Stationery"),
        ("home decor please", "Home decor"),
        ("toys for my niece", "Toys & games"),
        ("a nice mug", "Tableware"),
        ("a tea towel", "Kitchen"),
        ("lanterns", "Lighting & candles"),
        ("christmas decorations", "Christmas"),
        ("something for the bathroom", "Textiles & bath"),
        ("what about the garden instead", "Garden"),
    ],
)
def test_categories_in_many_phrasings(text: str, category: str) -> None:
    assert parse(text).category == category


def test_a_product_entity_names_the_category_when_the_words_do_not() -> None:
    assert parse("that sort of thing", products=["fairy lights"]).category == ("Lighting & candles")
    assert parse("not candles", products=["candle"]).category is None, "refused, not asked"


@pytest.mark.parametrize(
    ("text", "occasion", "recipient", "label"),
    [
        ("gift for my mum", None, "mum", "your mum"),
        ("something for my mom's birthday", "birthday", "mum", "your mom"),
        ("a housewarming gift", "housewarming", None, None),
        ("present for someone who just moved house", "housewarming", None, None),
        ("for a child", None, "child", "a child"),
        ("something for my 7 year old", None, "child", "your 7 year old"),
        ("birthday present for my sister", "birthday", "friend", "your sister"),
        ("christmas present ideas", "christmas", None, None),
        ("mother's day", "mothers_day", "mum", "your mum"),
        ("a thank you gift for a teacher", "thank_you", "teacher", "a teacher"),
        ("something for my girlfriend", None, "partner", "your girlfriend"),
        ("wedding gift", "wedding", None, None),
        ("i don't know what to get my dad", None, "dad", "your dad"),
    ],
)
def test_occasions_and_recipients(
    text: str, occasion: str | None, recipient: str | None, label: str | None
) -> None:
    said = parse(text)
    assert (said.occasion, said.recipient, said.recipient_label) == (occasion, recipient, label)


def test_plain_gift_words_ask_for_nothing_in_particular() -> None:
    for text in ("gift ideas?", "any gift ideas?", "recommend me some products", "surprise me"):
        said = parse(text)
        assert not said.states_constraints and not said.refines, text


@pytest.mark.parametrize(
    ("text", "excluded"),
    [
        ("not candles", ("candles",)),
        ("no mugs please", ("mugs",)),
        ("something other than candles", ("candles",)),
        ("no candles or mugs", ("candles", "mugs")),
        ("anything but lanterns", ("lanterns",)),
        ("not for the kitchen", ("kitchen",)),
        ("i don't want candles", ("candles",)),
        ("under £10 but not candles", ("candles",)),
    ],
)
def test_exclusions(text: str, excluded: tuple[str, ...]) -> None:
    said = parse(text)
    assert said.excluded == excluded
    assert said.category is None


@pytest.mark.parametrize("text", ["no idea", "not sure", "no thanks", "no i want candles", "nope"])
def test_a_no_that_refuses_no_product_is_no_exclusion(text: str) -> None:
    assert parse(text).excluded == ()


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("more like the second one", 1),
        ("like the 2nd", 1),
        ("something similar to the first one", 0),
        ("the third one", 2),
        ("more like number 3", 2),
        ("like #4", 3),
        ("more like the last one", -1),
        ("similar to option 2 please", 1),
    ],
)
def test_more_like_a_shown_product(text: str, position: int) -> None:
    said = parse(text)
    assert said.like_position == position and said.refines


@pytest.mark.parametrize(
    "text",
    [
        "cheaper please",
        "anything cheaper?",
        "something less expensive",
        "too expensive",
        "those are too pricey",
        "lower price please",
        "can you show cheaper ones",
        "not so expensive",
    ],
)
def test_cheaper(text: str) -> None:
    said = parse(text)
    assert said.cheaper and not said.pricier and said.refines and said.excluded == ()


def test_other_refinements() -> None:
    assert parse("something a bit fancier").pricier
    assert parse("anything bigger?").others
    assert parse("show me something else").others
    assert parse("what about the garden instead").relative


SHOWN: list[dict[str, Any]] = [
    {
        "stock_code": "A",
        "description": "ZINC WATERING CAN",
        "category": "Garden",
        "unit_price": 13.5,
    },
    {
        "stock_code": "B",
        "description": "SPICE JARS SET OF 6",
        "category": "Kitchen",
        "unit_price": 8.95,
    },
    {
        "stock_code": "C",
        "description": "BEESWAX CANDLE",
        "category": "Lighting & candles",
        "unit_price": 9.95,
    },
    {"stock_code": "D", "description": "HERB SEED KIT", "category": "Garden", "unit_price": 6.95},
]


def test_a_refinement_keeps_what_it_does_not_change() -> None:
    first = parse("gift for my mum under 15 pounds").as_request()
    kitchen = refine(first, parse("something for the kitchen"), SHOWN)
    assert kitchen.category == "Kitchen" and kitchen.budget == Budget.under(15)
    assert kitchen.recipient == "mum" and kitchen.seen == ("A", "B", "C", "D")
    assert kitchen.describe() == "kitchen gift ideas for your mum under £15"
    pricier = refine(first, parse("around £25"), SHOWN)
    assert pricier.budget == Budget.around(25) and pricier.recipient == "mum"


def test_cheaper_is_below_the_lower_middle_of_what_was_shown() -> None:
    cheaper = refine(None, parse("cheaper please"), SHOWN)
    assert cheaper.budget == Budget.under(8.95)  # of 6.95, 8.95, 9.95, 13.5
    within = refine(parse("under £5").as_request(), parse("cheaper"), SHOWN)
    assert within.budget == Budget.under(5), "never above the budget already stated"
    assert refine(None, parse("fancier"), SHOWN).budget == Budget.over(9.95)


def test_more_like_the_second_one_takes_its_category() -> None:
    like = refine(parse("candles").as_request(), parse("more like the second one"), SHOWN)
    assert like.category == "Kitchen" and like.like is not None
    assert (like.like.stock_code, like.like.name) == ("B", "Spice Jars Set Of 6")
    assert like.describe() == "picks like the Spice Jars Set Of 6"
    assert refine(None, parse("like the ninth one"), SHOWN).like is None, "only what was shown"
    last = refine(None, parse("more like the last one"), SHOWN)
    assert last.like is not None and last.like.stock_code == "D"


def test_exclusions_add_up_and_refusing_the_category_drops_it() -> None:
    candles = parse("candles under £10").as_request()
    no_candles = refine(candles, parse("not candles"), SHOWN)
    assert no_candles.category is None and no_candles.budget == Budget.under(10)
    no_mugs = refine(no_candles, parse("no mugs either"), SHOWN)
    assert no_mugs.excluded == ("candles", "mugs")
    assert no_mugs.describe() == "picks under £10 without candles or mugs"
    assert no_mugs.excluded_categories() == {"Lighting & candles"}
    assert no_mugs.excluded_words() == ["mug"]


def test_a_fresh_request_replaces_the_last_one() -> None:
    previous = parse("gift for my mum under 15 pounds").as_request()
    fresh = Ask(parse("something for the garden"), previous, refine=False).request(SHOWN)
    assert fresh == ShoppingRequest(category="Garden")
    refined = Ask(parse("something for the garden"), previous, refine=True).request(SHOWN)
    assert refined.budget == Budget.under(15)


def test_what_a_request_allows() -> None:
    request = parse("kitchen under £10, no jars").as_request()
    assert request.allows({"category": "Kitchen", "unit_price": 3.25, "description": "TOWEL"})
    assert not request.allows({"category": "Kitchen", "unit_price": 10, "description": "TOWEL"})
    assert not request.allows({"category": "Baking", "unit_price": 3, "description": "TIN"})
    assert not request.allows({"category": "Kitchen", "unit_price": 8, "description": "SPICE JARS"})


def test_the_vocabulary_names_only_shop_categories() -> None:
    named = set(CATEGORY_WORDS) | set(CATEGORY_LABELS)
    for idea in (*OCCASIONS.values(), *RECIPIENTS.values()):
        named |= set(idea.prefer) | set(idea.avoid)
    assert named <= set(CATEGORIES)
    assert set(CATEGORY_LABELS) == set(CATEGORIES) - {"Other"}


def test_a_long_hostile_request_is_read_in_bounded_time() -> None:
    import time

    for text in ("gift ideas " + "no x/" * 400, "not x or " * 222, "not " * 500):
        started = time.monotonic()
        said = parse(text)
        assert time.monotonic() - started < 0.2
        assert len(said.excluded) <= 5
