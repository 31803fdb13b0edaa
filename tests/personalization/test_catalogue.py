"""Categories derived from the shop's real description style."""

from __future__ import annotations

import pytest

from personalization.catalogue import CATEGORIES, OTHER, categorise

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("description", "category"),
    [
        ("WHITE HANGING HEART T-LIGHT HOLDER", "Lighting & candles"),
        ("JUMBO BAG RED RETROSPOT", "Bags"),
        ("SET OF 3 CAKE TINS PANTRY DESIGN", "Baking"),
        ("PAPER CHAIN KIT 50'S CHRISTMAS", "Christmas"),
        ("CHRISTMAS LIGHTS 10 REINDEER", "Christmas"),  # the season wins over the object
        ("SET 7 BABUSHKA NESTING BOXES", "Storage"),
        ("HAND WARMER UNION JACK", "Textiles & bath"),
        ("ENAMEL MUG VINTAGE ROSE", "Tableware"),
        ("INFLATABLE POLITICAL GLOBE", OTHER),
    ],
)
def test_descriptions_get_the_category_a_shopper_would_expect(
    description: str, category: str
) -> None:
    assert categorise(description) == category
    assert category in CATEGORIES


def test_words_match_whole_words_only() -> None:
    assert categorise("HAIRCLIP") == OTHER, "'hair' must not match inside another word"
    assert categorise("earrings") == "Jewellery & accessories", "plural and lower case"
