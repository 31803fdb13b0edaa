"""The shop's help articles: Markdown files that editors change, loaded into the store.

Each file under ``content/help`` is ``# Title``, a ``tags: a, b`` line, a blank line and the
body in Markdown. The file name (without ``.md``) is the article's id, so links stay stable
when a title changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from personalization import chat_markdown
from personalization.settings import help_center_url
from personalization.store import Database

CONTENT_DIR = Path(__file__).parent / "content" / "help"
_ID = re.compile(r"^[a-z0-9-]{1,80}$")
# Enough for a short intro and a list of four or five items: a list is the one thing an
# excerpt should not cut (see chat_markdown.fit).
EXCERPT_CHARS = 420


class ArticleFormatError(ValueError):
    """A help article file does not follow the expected layout."""


@dataclass(frozen=True)
class HelpArticle:
    id: str
    title: str
    body: str
    tags: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.title}\n{' '.join(self.tags)}\n{self.body}"


def excerpt(body: str, title: str = "", chars: int = EXCERPT_CHARS) -> str:
    """The start of an article for a chat bubble, in the Markdown every client can show
    (``personalization.chat_markdown``): not repeating the title, which the answer shows
    already; lists one item a line; whole sentences and items, cut to ``chars``."""
    return chat_markdown.fit(chat_markdown.without_title(chat_markdown.blocks(body), title), chars)


def valid_article_id(value: object) -> bool:
    """Whether a value can be an article's id: ids arrive in button payloads a customer
    can also type, so only this shape ever reaches the store."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def article_url(article_id: str, base: str | None = None) -> str | None:
    """Where customers can read the whole article (HELP_CENTER_URL), or None if unset."""
    base = (help_center_url() if base is None else base).strip()
    return f"{base.rstrip('/')}/{article_id}" if base else None


def parse_article(path: Path) -> HelpArticle:
    article_id = path.stem
    if not _ID.match(article_id):
        raise ArticleFormatError(f"{path.name}: the file name must be lower-case-with-dashes")
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 4 or not lines[0].startswith("# ") or not lines[1].startswith("tags:"):
        raise ArticleFormatError(f"{path.name}: expected '# Title', 'tags: …', blank, body")
    tags = tuple(t.strip().lower() for t in lines[1][len("tags:") :].split(",") if t.strip())
    body = "\n".join(lines[3:]).strip()
    if not body:
        raise ArticleFormatError(f"{path.name}: the body is empty")
    return HelpArticle(article_id, lines[0][2:].strip(), body, tags)


def load_articles(directory: Path = CONTENT_DIR) -> list[HelpArticle]:
    return [parse_article(p) for p in sorted(directory.glob("*.md"))]


class HelpArticleRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(self, articles: list[HelpArticle]) -> int:
        """Insert or update; returns how many rows changed."""
        changed = 0
        with self._db.cursor() as cur:
            for a in articles:
                cur.execute(
                    """INSERT INTO help_articles (id, title, body, tags) VALUES (%s, %s, %s, %s)
                       ON CONFLICT (id) DO UPDATE
                       SET title = EXCLUDED.title, body = EXCLUDED.body, tags = EXCLUDED.tags,
                           updated_at = now()
                       WHERE (help_articles.title, help_articles.body, help_articles.tags)
                             IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.body, EXCLUDED.tags)""",
                    (a.id, a.title, a.body, list(a.tags)),
                )
                changed += cur.rowcount
        return changed

    def all(self) -> list[HelpArticle]:
        with self._db.cursor() as cur:
            cur.execute("SELECT id, title, body, tags FROM help_articles ORDER BY id")
            return [
                HelpArticle(r["id"], r["title"], r["body"], tuple(r["tags"]))
                for r in cur.fetchall()
            ]

    def get(self, article_id: str) -> HelpArticle | None:
        with self._db.cursor() as cur:
            cur.execute(
                "SELECT id, title, body, tags FROM help_articles WHERE id = %s", (article_id,)
            )
            r = cur.fetchone()
        return HelpArticle(r["id"], r["title"], r["body"], tuple(r["tags"])) if r else None
