"""The help centre's articles: shipped content, parsing and the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalization.help_center import (
    ArticleFormatError,
    HelpArticleRepository,
    article_url,
    load_articles,
    parse_article,
)
from personalization.store import Database


def test_the_shop_ships_substantial_articles_on_every_topic() -> None:
    articles = load_articles()
    assert len(articles) >= 30
    tags = {tag for a in articles for tag in a.tags}
    assert {"shipping", "returns", "payment", "account", "privacy"} <= tags
    for article in articles:
        assert len(article.body.split()) >= 60, f"{article.id} is too thin to help anyone"
    assert len({a.title for a in articles}) == len(articles), "titles are unique"


def test_a_malformed_article_is_refused_with_its_file_name(tmp_path: Path) -> None:
    (tmp_path / "no-tags.md").write_text("# Title\n\nbody without tags\n")
    with pytest.raises(ArticleFormatError, match=r"no-tags\.md"):
        parse_article(tmp_path / "no-tags.md")
    (tmp_path / "Bad Name.md").write_text("# T\ntags: a\n\nbody\n")
    with pytest.raises(ArticleFormatError, match="lower-case"):
        parse_article(tmp_path / "Bad Name.md")


def test_upsert_stores_articles_once_and_updates_edits(db: Database, tmp_path: Path) -> None:
    repo = HelpArticleRepository(db)
    articles = load_articles()
    assert repo.upsert(articles) == len(articles)
    assert repo.upsert(articles) == 0, "unchanged articles are not rewritten"
    stored = repo.get("refund-timing")
    assert stored is not None and "5 working days" in stored.body
    (tmp_path / "refund-timing.md").write_text(
        "# When will I get my refund?\ntags: returns, refund\n\nWithin 3 working days.\n"
    )
    assert repo.upsert([parse_article(tmp_path / "refund-timing.md")]) == 1
    edited = repo.get("refund-timing")
    assert edited is not None and edited.body == "Within 3 working days."
    assert edited.tags == ("returns", "refund")


def test_article_links_follow_the_help_centre_address() -> None:
    assert article_url("delivery-times", "http://shop.test/help/") == (
        "http://shop.test/help/delivery-times"
    )
    assert article_url("delivery-times", "") is None
