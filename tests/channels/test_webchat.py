from __future__ import annotations

from pathlib import Path

from channels.webchat import PAGE_FILES, WEBCHAT_DIR, render_article


def test_every_file_the_page_loads_is_served() -> None:
    page = (WEBCHAT_DIR / "index.html").read_text()
    for name in PAGE_FILES:
        assert (WEBCHAT_DIR / name).is_file()
    assert 'src="static/chat.js"' in page and 'href="static/chat.css"' in page
    assert 'src="vendor/socket.io.min.js"' in page
    assert "http" not in page.replace("http-equiv", ""), "no address outside the server"


def test_an_article_page_is_rendered_from_its_markdown(tmp_path: Path) -> None:
    (tmp_path / "gift-wrap.md").write_text(
        "# Gift <wrapping>\ntags: gifts\n\nWe wrap **any** order.\n\n- ribbon\n- card\n"
    )
    page = render_article("gift-wrap", tmp_path)
    assert page is not None
    assert "<h1>Gift &lt;wrapping&gt;</h1>" in page
    assert "<strong>any</strong>" in page and "<li>ribbon</li>" in page


def test_only_existing_articles_are_served(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("# Real\ntags: x\n\nBody.\n")
    assert render_article("../real", tmp_path) is None
    assert render_article("missing", tmp_path) is None
    (tmp_path / "broken.md").write_text("no title line\n")
    assert render_article("broken", tmp_path) is None
