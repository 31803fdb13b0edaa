"""Which line of an order a customer wants to send back, from their words for it."""

from __future__ import annotations

from datetime import date

import pytest

from personalization.support.orders import Order, OrderLine
from personalization.support.returns import match_line

pytestmark = pytest.mark.fast

ORDER = Order(
    id="A-2",
    customer_id="cust-0001",
    status="delivered",
    ordered_on=date(2026, 11, 1),
    expected_delivery=date(2026, 11, 4),
    total=30.0,
    lines=(
        OrderLine(1, "84029E", "CERAMIC VASE SPECKLED", 1, 12.5),
        OrderLine(2, "22993", "PAPER LAMPSHADE PALE BLUE", 1, 9.95),
        OrderLine(3, "21733", "BEESWAX PILLAR CANDLE SET OF 3", 2, 3.75),
    ),
)


@pytest.mark.parametrize(
    ("said", "line_no"),
    [
        ("the speckled vase", 1),
        ("vases", 1),
        ("lamp", 2),
        ("the candles", 3),
        ("the blue one", 2),
        ("21733", 3),
        ("84029e", 1),
        ("ceramc vase speckld", 1),  # a slip of the keyboard on the whole name
    ],
)
def test_the_line_is_found_from_the_customers_words(said: str, line_no: int) -> None:
    line = match_line(ORDER, said)
    assert line is not None and line.line_no == line_no


@pytest.mark.parametrize("said", ["it", "E", "the one", "a teapot", "   "])
def test_words_that_name_no_line_pick_none(said: str) -> None:
    """Letters inside a name are no match ("it", "E"), and an item not in the order is none."""
    assert match_line(ORDER, said) is None


def test_a_word_two_lines_share_is_asked_about_not_guessed() -> None:
    two_mugs = Order(
        **{
            **ORDER.__dict__,
            "lines": (
                OrderLine(1, "1", "ENAMEL MUG VINTAGE ROSE", 1, 4.0),
                OrderLine(2, "2", "ENAMEL MUG SKY BLUE", 1, 4.0),
            ),
        }
    )
    assert match_line(two_mugs, "the mug") is None
    line = match_line(two_mugs, "the blue mug")
    assert line is not None and line.line_no == 2


def test_an_order_of_one_line_needs_no_words() -> None:
    single = Order(**{**ORDER.__dict__, "lines": ORDER.lines[:1]})
    assert match_line(single, None) == ORDER.lines[0]
    assert match_line(ORDER, None) is None
