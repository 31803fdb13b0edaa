"""Help-article excerpts as a chat shows them: the shipped articles, and the cases they do not
have yet (a repeated title, a list that does not fit, links, marks an editor may use)."""

from __future__ import annotations

import re

import pytest

from personalization.chat_markdown import echoes, link_text, visible_length
from personalization.help_center import EXCERPT_CHARS, HelpArticle, excerpt, load_articles

pytestmark = pytest.mark.fast

ARTICLES = load_articles()
# What the chat subset allows of brackets: a link with a title to an http(s) address.
LINK = re.compile(r"\[(?:\\.|[^\]\\])+\]\(https?://[^\s()<>]+\)")
LIST_LINE = re.compile(r"^(?:- |\d+\. )")
BODY_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$", re.MULTILINE)
TITLE = "How long does delivery take?"
REST = "Orders placed before 2 pm leave the same day. Later orders leave the next working day."


def broken_markdown(text: str) -> list[str]:
    """What a chat client would show as stray marks, or read as markup we do not allow."""
    found = []
    outside_links = LINK.sub("", text)
    for mark in ("**", "__", "`", "[", "]", "](", "•"):
        if mark in outside_links:
            found.append(mark)
    if re.search(r"</?[A-Za-z]", text):
        found.append("html")
    found += [line for line in text.split("\n") if re.match(r"\s*(#|>|\*|\+)", line)]
    return found


def plain(markdown: str) -> str:
    """An article body as words, its marks gone, to find an excerpt's sentences in."""
    return " ".join(re.sub(r"\*\*|^\s*(?:[-*+]|\d+[.)])\s+", "", markdown, flags=re.M).split())


@pytest.mark.parametrize("article", ARTICLES, ids=[a.id for a in ARTICLES])
def test_every_shipped_article_gives_a_clean_excerpt(article: HelpArticle) -> None:
    text = excerpt(article.body, article.title)
    lines = text.split("\n")
    assert text and visible_length(text) <= EXCERPT_CHARS
    # The answer shows the title above the excerpt: the excerpt does not say it again.
    assert article.title.lower() not in lines[0].lower()
    assert not echoes(re.split(r"(?<=[.!?:])\s", lines[0])[0], article.title)
    assert broken_markdown(text) == []
    # Whole sentences and list items, in the article's words, and no dangling intro.
    body = plain(article.body)
    for line in lines:
        if line and not line.endswith("…"):
            assert LIST_LINE.sub("", line) in body, line
    assert re.search(r"[.!?;)]$|^(?:- |\d+\. )…$", lines[-1]), lines[-1]


@pytest.mark.parametrize("article", ARTICLES, ids=[a.id for a in ARTICLES])
def test_list_items_stay_on_their_own_lines(article: HelpArticle) -> None:
    lines = excerpt(article.body, article.title).split("\n")
    shown = 0
    for item in BODY_ITEM.findall(article.body):
        words = " ".join(item.replace("**", "").split())
        holding = [line for line in lines if words in line]
        assert len(holding) <= 1
        if holding:
            shown += 1
            assert LIST_LINE.sub("", holding[0]) == words, "one item, alone on its line"
            assert LIST_LINE.match(holding[0])
    items_in_body = len(BODY_ITEM.findall(article.body))
    if 0 < shown < items_in_body:
        assert re.fullmatch(r"(?:-|\d+\.) …", lines[-1])


def test_the_shipped_lists_are_shown_whole() -> None:
    text = excerpt(next(a for a in ARTICLES if a.id == "delivery-times").body, TITLE)
    assert text.split("\n")[2:] == [
        "- UK standard: 3–5 working days, free on orders over £40, otherwise £3.95.",
        "- UK express: next working day when ordered before 2 pm, £6.95.",
        "- EU and EFTA countries: 5–8 working days, £9.95, free over £120.",
        "- Rest of the world: 7–14 working days; the price is shown at checkout.",
    ]
    steps = excerpt(next(a for a in ARTICLES if a.id == "late-parcel").body, "My parcel is late")
    assert steps.startswith(
        "If your parcel has not arrived by the end of the delivery estimate:\n"
        '1. Check the tracking link for a "delivery attempted"'
    )
    assert "\n2. Check with neighbours" in steps and "\n3. If tracking has not moved" in steps


@pytest.mark.parametrize(
    "body",
    [
        f"# {TITLE}\n\n{REST}",
        f"**{TITLE}**\n\n{REST}",
        f"{TITLE} {REST}",
        f"Delivery: how long does it take?\n\n{REST}",
        f"## {TITLE.upper()}\n{REST}",
    ],
    ids=["heading", "bold line", "first sentence", "rephrased", "shouted heading"],
)
def test_a_body_that_repeats_its_title_is_shown_without_it(body: str) -> None:
    assert excerpt(body, TITLE) == REST


def test_a_first_sentence_that_says_more_than_the_title_is_kept() -> None:
    body = "Delivery takes 3–5 working days in the UK. " + REST
    assert excerpt(body, TITLE).startswith("Delivery takes 3–5 working days")
    assert excerpt("Delivery.\n\n" + REST, "Delivery times") == REST


def test_a_list_that_does_not_fit_shows_whole_items_and_says_it_goes_on() -> None:
    items = [f"Option {n}: a line of about forty characters." for n in range(1, 9)]
    body = "Choose what suits you:\n\n" + "\n".join(f"* {i}" for i in items)
    text = excerpt(body, "Choices", chars=160)
    lines = text.split("\n")
    assert lines[0] == "Choose what suits you:"
    assert lines[1:-1] == [f"- {i}" for i in items[: len(lines) - 2]]
    assert len(lines) - 2 >= 2 and lines[-1] == "- …"
    assert visible_length(text) <= 160

    numbered = excerpt("\n".join(f"{n}. {i}" for n, i in enumerate(items, 1)), "x", chars=100)
    assert numbered.split("\n") == [f"1. {items[0]}", f"2. {items[1]}", "3. …"]


def test_an_intro_is_never_shown_without_the_first_item_it_announces() -> None:
    body = (
        "Refunds are issued within five working days of receiving the parcel.\n\n"
        "The time until you see the money depends on the payment method:\n"
        "- cards: three to five working days, sometimes up to ten for a few banks;\n"
        "- PayPal: within a day."
    )
    text = excerpt(body, "Refunds", chars=120)
    assert text == "Refunds are issued within five working days of receiving the parcel."


def test_sentences_are_whole_and_a_cut_word_is_the_last_resort() -> None:
    body = "First sentence here. Second sentence is rather longer than the first one."
    assert excerpt(body, chars=40) == "First sentence here."
    long = "One very long sentence " + "that goes on " * 40 + "and ends."
    cut = excerpt(long, chars=60)
    assert cut.endswith("…") and visible_length(cut) <= 60
    assert long.startswith(cut[:-1]) and cut[-2] != " "  # at a word, not mid-word


def test_a_cut_never_falls_inside_a_link() -> None:
    body = "See " + "[our full returns policy page](https://shop.test/help/returns) " * 5
    cut = excerpt(body, chars=50)
    assert broken_markdown(cut) == []
    assert cut == "See [our full returns policy page](https://shop.test/help/returns)…"


def test_links_keep_their_titles_and_other_marks_are_reduced_to_text() -> None:
    body = (
        "Read [our *returns* policy](https://shop.test/help/return-policy) or "
        "[the form](/help/form), not [this](javascript:alert(1)). "
        '![a photo](https://shop.test/p.png) <b onclick="x()">Bold</b> `code` and **strong**, '
        "_italic_ and snake_case_name [see \\[1\\]](https://shop.test/n)."
    )
    text = excerpt(body)
    assert text == (
        "Read [our returns policy](https://shop.test/help/return-policy) or the form, not "
        "this. a photo Bold code and strong, italic and snake_case_name "
        "[see (1)](https://shop.test/n)."
    )
    assert broken_markdown(text) == []


def test_a_title_is_safe_inside_a_links_brackets() -> None:
    assert link_text("Sizes [EU] \\ UK") == "Sizes \\[EU\\] \\\\ UK"
    assert LINK.fullmatch(f"[{link_text('a ] b [ c')}](https://shop.test/x)")


def test_bullets_of_any_kind_become_dash_lines_and_wrapped_items_one_line() -> None:
    body = "Intro text here:\n\n+ one\n* two\n  continued on the next line\n- three"
    assert excerpt(body) == "Intro text here:\n- one\n- two continued on the next line\n- three"


def test_an_opening_intro_gets_its_first_item_cut_rather_than_shown_alone() -> None:
    body = "Choose one:\n- " + "a very long first option that goes on " * 10 + "\n- second"
    text = excerpt(body, chars=100)
    lines = text.split("\n")
    assert lines[0] == "Choose one:"
    assert lines[1].startswith("- a very long first option") and lines[1].endswith("…")
    assert lines[2:] == ["- …"] and visible_length(text) <= 100
