"""Editors' Markdown reduced to what every chat client can show, and cut to fit a bubble.

The subset: paragraphs (blank lines), line breaks, "- " and "1. " list items, and links with
a title to an http(s) address. The web chat renders it, the Slack channel turns it into
mrkdwn, and REST clients get it as it is. Emphasis, headings, images, code and HTML are
reduced to their text: no client then shows stray marks, and nothing an editor writes can
become markup in a chat.

A cut keeps whole sentences and whole list items, so an answer never stops mid-word unless a
single sentence is longer than the whole bubble; a list that does not fit ends with a "…"
item, so it does not pass for the complete list, and an intro ending in ":" is never shown
without the first item it announces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ELLIPSIS = "…"
# [title](http(s)://address "optional hover title"); other addresses keep only the title.
_LINK = re.compile(
    r"!?\[((?:\\.|[^\[\]\\]){0,300})\]"  # [title]: brackets inside escaped, 300 at most
    r"\(\s*<?((?:[^\s()<>]|\([^\s()<>]*\))*)>?"  # (address, balanced parentheses allowed
    r"(?:\s+\"[^\"]*\")?\s*\)"  # "an optional hover title")
)
_REFERENCE_LINK = re.compile(r"\[((?:\\.|[^\[\]\\]){1,300})\]\[[^\[\]]*\]")
_AUTOLINK = re.compile(r"<(https?://[^\s>]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<!--.*?-->", re.DOTALL)
_WEB_ADDRESS = re.compile(r"^https?://[^\s()<>\[\]]+$", re.IGNORECASE)
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(
    r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)([^_]+?)(?<=\S)_(?!\w)"
)
_CODE = re.compile(r"`+([^`]*)`+")
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>])")
_LIST_ITEM = re.compile(r"^\s{0,8}(?:([-*+•])|(\d{1,3})[.)])\s+(.*)$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_QUOTE = re.compile(r"^\s{0,3}>\s?")
# A sentence ends at . ! ? or … followed by a space and a capital, a digit or an opening mark.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]?\s+(?=[\"'“(\[]?[A-Z0-9£€$])")
_WORD = re.compile(r"[a-z0-9]+")
_FILLER = frozenset(
    re.findall(
        r"\w+",
        "a an the i my me you your we our us it its is are was be do does did can could how "
        "what when where why which who to of for in on at with and or about",
    )
)


@dataclass(frozen=True)
class Block:
    """A paragraph (its sentences) or a list (its items), in the chat subset."""

    parts: tuple[str, ...]
    list_start: int | None = None  # the first number of a numbered list
    bulleted: bool = False

    @property
    def is_list(self) -> bool:
        return self.bulleted or self.list_start is not None

    @property
    def is_intro(self) -> bool:
        return not self.is_list and self.parts[-1].endswith(":")

    def lines(self, parts: tuple[str, ...] | None = None) -> list[str]:
        shown = self.parts if parts is None else parts
        if self.bulleted:
            return [f"- {item}" for item in shown]
        if self.list_start is not None:
            return [f"{self.list_start + i}. {item}" for i, item in enumerate(shown)]
        return [" ".join(shown)]


def link_text(title: str) -> str:
    """A title safe inside [ ] of a Markdown link: its brackets and backslashes escaped."""
    return re.sub(r"([\\\[\]])", r"\\\1", " ".join(title.split()))


def visible(text: str) -> str:
    """The text as a reader sees it: a link as its title."""
    return _LINK.sub(lambda m: _ESCAPED.sub(r"\1", m.group(1)), text)


def visible_length(text: str) -> int:
    return len(visible(text))


def inline(text: str) -> str:
    """One line of editors' Markdown in the chat subset: http(s) links kept with their
    titles, every other mark reduced to its text, whitespace collapsed."""
    text = _AUTOLINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    pieces: list[str] = []
    last = 0
    for match in _LINK.finditer(text):
        pieces.append(_plain(text[last : match.start()]))
        title = _plain(_ESCAPED.sub(r"\1", match.group(1)))
        address = match.group(2)
        is_image = match.group(0).startswith("!")
        if title and _WEB_ADDRESS.match(address) and not is_image:
            pieces.append(f"[{link_text(title)}]({address})")
        else:
            pieces.append(title)
        last = match.end()
    pieces.append(_plain(text[last:]))
    return " ".join("".join(pieces).split())


def _plain(text: str) -> str:
    text = _HTML_TAG.sub("", text)
    text = _CODE.sub(r"\1", text)
    for _ in range(2):  # bold around italic, or the other way round
        text = _STRONG.sub(r"\2", text)
        text = _ITALIC.sub(lambda m: m.group(1) or m.group(2), text)
    text = _ESCAPED.sub(r"\1", text)
    # What is left of a mark would be read as one by a client: a lone ** or a [ ].
    return text.replace("**", "").replace("__", "").replace("[", "(").replace("]", ")")


def sentences(text: str) -> tuple[str, ...]:
    """The sentences of a paragraph, never split inside a link."""
    links = [m.span() for m in _LINK.finditer(text)]
    parts: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        if any(a < end.start() < b for a, b in links):
            continue
        parts.append(text[start : end.start()] + end.group(0).strip())
        start = end.end()
    parts.append(text[start:])
    return tuple(p.strip() for p in parts if p.strip())


def blocks(markdown: str) -> list[Block]:
    """The paragraphs and lists of an article body, in the chat subset."""
    found: list[Block] = []
    lines: list[str] = []  # the paragraph being read
    items: list[str] = []  # the list being read
    kind: tuple[bool, int | None] = (False, None)

    def close() -> None:
        nonlocal lines, items
        if lines:
            text = inline(" ".join(lines))
            if text:
                found.append(Block(sentences(text)))
        if items:
            kept = tuple(i for i in (inline(item) for item in items) if i)
            if kept:
                found.append(Block(kept, list_start=kind[1], bulleted=kind[0]))
        lines, items = [], []

    for raw in markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _QUOTE.sub("", raw)
        if not line.strip() or _RULE.match(line) or _FENCE.match(line):
            close()
            continue
        heading = _HEADING.match(line)
        item = _LIST_ITEM.match(line)
        if heading:
            close()
            lines = [heading.group(1)]
            close()
        elif item:
            this_kind = (item.group(1) is not None, None if item.group(1) else int(item.group(2)))
            if lines or (items and this_kind[0] != kind[0]):
                close()
            if not items:
                kind = this_kind
            items.append(item.group(3))
        elif items:
            items[-1] += " " + line.strip()  # a wrapped list item
        else:
            lines.append(line.strip())
    close()
    return found


def _words(text: str) -> list[str]:
    words = _WORD.findall(visible(text).lower())
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words]


def echoes(text: str, title: str) -> bool:
    """Whether a sentence says no more than the title ("Delivery times." under "How long
    does delivery take?"): it names nothing the title does not."""
    said, titled = _words(text), _words(title)
    if not said or not titled:
        return False
    if said == titled:
        return True
    meaning = {w for w in said if w not in _FILLER}
    return bool(meaning) and meaning <= set(titled) and len(said) <= len(titled) + 2


def without_title(found: list[Block], title: str) -> list[Block]:
    """The blocks without a leading repeat of the title: a heading or a bold line that is
    the title again, or a first sentence that only echoes it."""
    if not found or found[0].is_list or not title.strip():
        return found
    first, rest = found[0], found[1:]
    if echoes(" ".join(first.parts), title):
        return without_title(rest, title)
    if echoes(first.parts[0], title):
        return [Block(first.parts[1:]), *rest] if len(first.parts) > 1 else rest
    return found


def cut_words(text: str, chars: int) -> str:
    """The text cut at the last space that fits, never inside a link, with "…"."""
    if visible_length(text) <= chars:
        return text
    links = [m.span() for m in _LINK.finditer(text)]
    best = ""
    for space in re.finditer(r"\s+", text):
        if any(a < space.start() < b for a, b in links):
            continue
        head = text[: space.start()].rstrip(",;:–—-")
        if visible_length(head) + len(ELLIPSIS) > chars:
            break
        best = head
    if not best:  # one word longer than the bubble: cut it, outside any link
        best = visible(text)[: max(chars - len(ELLIPSIS), 1)]
    return best + ELLIPSIS


def fit(found: list[Block], chars: int) -> str:
    """As many whole blocks, sentences and list items as fit in ``chars`` visible
    characters; see the module's docstring for how a cut looks."""
    shown: list[Shown] = []
    for index, block in enumerate(found):
        following = found[index + 1] if index + 1 < len(found) else None
        announces = block.is_intro and following is not None and following.is_list
        taken: tuple[str, ...] = ()
        for part in block.parts:
            trial = (*taken, part)
            candidate = [*shown, Shown(block, trial, len(trial) == len(block.parts))]
            opens_excerpt = not shown and len(trial) == 1
            if candidate[-1].complete and announces and not opens_excerpt:
                # An intro needs the first item it announces; one that opens the excerpt
                # gets that item cut to fit (below) rather than nothing at all.
                candidate.append(Shown(following, following.parts[:1], True))
            if visible_length(render(candidate)) > chars:
                break
            taken = trial
        if not taken:
            after_intro = bool(shown) and shown[-1].block.is_intro and block.is_list
            if shown and not after_intro:
                break
            # Nothing shown yet, or an intro above: the first sentence or item, cut to fit.
            complete = len(block.parts) == 1
            room = chars - visible_length(render([*shown, Shown(block, ("",), complete)]))
            shown.append(Shown(block, (cut_words(block.parts[0], room),), complete))
            break
        shown.append(Shown(block, taken, len(taken) == len(block.parts)))
        if not shown[-1].complete:
            break
    return render(shown)


@dataclass(frozen=True)
class Shown:
    """The part of a block an excerpt shows."""

    block: Block
    parts: tuple[str, ...]
    complete: bool

    def lines(self) -> list[str]:
        lines = self.block.lines(self.parts)
        if not self.complete and self.block.bulleted:
            lines.append(f"- {ELLIPSIS}")  # a list that goes on must not pass for complete
        elif not self.complete and self.block.list_start is not None:
            lines.append(f"{self.block.list_start + len(self.parts)}. {ELLIPSIS}")
        return lines


def render(shown: list[Shown]) -> str:
    """Blocks apart by a blank line, but a list right under the intro that announces it."""
    text = ""
    for i, part in enumerate(shown):
        if i:
            after_intro = part.block.is_list and shown[i - 1].block.is_intro
            text += "\n" if after_intro else "\n\n"
        text += "\n".join(part.lines())
    return text
