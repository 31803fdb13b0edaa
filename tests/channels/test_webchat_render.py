"""The web chat's rendering of the bot's Markdown, in headless Chromium, without the stack.

The real page, script and style sheet are served with the server's security headers from a
routed origin; only the socket.io client is replaced by a stand-in that lets the test deliver
``bot_uttered`` messages as Rasa would. If Chromium cannot start, the tests fail with the
reason (as the end-to-end tests do); they are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from channels.webchat import SECURITY_HEADERS, WEBCHAT_DIR
from tests.chromium import chromium

ORIGIN = "http://chat.test"
PAGE = f"{ORIGIN}/webhooks/chat/"
# Stands in for socket.io: records what the page emits, and lets the test fire events.
FAKE_SOCKET_IO = """
window.io = function () {
  var handlers = {};
  var socket = {
    emitted: [],
    on: function (name, handler) { handlers[name] = handler; },
    emit: function (name, data) { socket.emitted.push([name, data]); },
    fire: function (name, data) { handlers[name](data); },
  };
  window.__socket = socket;
  setTimeout(function () {
    socket.fire("connect");
    socket.fire("session_confirm", "0123456789abcdef0123456789abcdef");
  }, 0);
  return socket;
};
"""
ARTICLE = (
    "**How long does delivery take?**\n"
    "Orders placed before 2 pm leave the same day.\n\n"
    "Prices:\n"
    "- UK standard: 3–5 working days, see [the rates](https://shop.test/rates).\n"
    "- EU: 5–8 working days.\n\n"
    "1. Open the order\n"
    "2. Choose **Return items**"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def serve(route: Route) -> None:
    path = route.request.url.removeprefix(PAGE).split("?")[0]
    files = {"": "index.html", "static/chat.js": "chat.js", "static/chat.css": "chat.css"}
    if path == "vendor/socket.io.min.js":
        body, kind = FAKE_SOCKET_IO, "application/javascript"
    elif path in files:
        body = (WEBCHAT_DIR / files[path]).read_text()
        kind = {"html": "text/html", "js": "application/javascript", "css": "text/css"}[
            files[path].rsplit(".", 1)[1]
        ]
    else:
        route.fulfill(status=404, body="not found")
        return
    route.fulfill(status=200, body=body, headers={**SECURITY_HEADERS, "Content-Type": kind})


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    opened.route(f"{ORIGIN}/**", serve)
    opened.goto(PAGE)
    opened.wait_for_function("window.__socket && window.__socket.emitted.length > 1")
    yield opened
    context.close()


def bot_says(page: Page, message: dict[str, Any]) -> Any:
    """Deliver a bot message; the locator of the bubble it made."""
    before = page.locator(".from-bot .bubble").count()
    page.evaluate("m => window.__socket.fire('bot_uttered', m)", message)
    bubble = page.locator(".from-bot .bubble").nth(before)
    bubble.wait_for()
    return bubble


def test_an_article_is_shown_as_paragraphs_lists_bold_and_a_titled_link(page: Page) -> None:
    bubble = bot_says(page, {"text": ARTICLE})
    assert bubble.locator("> p").count() == 2
    assert bubble.locator("> p").first.inner_text() == (
        "How long does delivery take?\nOrders placed before 2 pm leave the same day."
    )
    assert bubble.locator("p strong").first.inner_text() == "How long does delivery take?"
    assert bubble.locator("ul > li").all_inner_texts() == [
        "UK standard: 3–5 working days, see the rates.",
        "EU: 5–8 working days.",
    ]
    assert bubble.locator("ol > li").all_inner_texts() == ["Open the order", "Choose Return items"]
    assert bubble.locator("ol strong").inner_text() == "Return items"
    link = bubble.locator("a")
    assert link.count() == 1 and link.inner_text() == "the rates"
    assert link.get_attribute("href") == "https://shop.test/rates"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.get_attribute("target") == "_blank"
    assert "**" not in bubble.inner_text() and "](" not in bubble.inner_text()


def test_the_read_more_link_shows_the_articles_title(page: Page) -> None:
    bubble = bot_says(
        page, {"text": "Read more: [How long does delivery take?](https://shop.test/help/d)"}
    )
    assert bubble.inner_text() == "Read more: How long does delivery take?"
    assert bubble.locator("a").get_attribute("href") == "https://shop.test/help/d"


def test_only_http_links_become_links_and_markup_stays_text(page: Page) -> None:
    bubble = bot_says(
        page,
        {
            "text": "[click](javascript:window.__xss=1) [data](data:text/html,hi) "
            '<img src=x onerror="window.__xss=2"> **<b>bold</b>** '
            "[x](https://shop.test/a) see https://shop.test/raw."
        },
    )
    hrefs = [a.get_attribute("href") for a in bubble.locator("a").all()]
    assert hrefs == ["https://shop.test/a", "https://shop.test/raw"]
    assert bubble.locator("img, b, script").count() == 0
    text = bubble.inner_text()
    assert text.startswith("click data <img src=x")
    assert "<b>bold</b>" in bubble.locator("strong").inner_text()
    assert page.evaluate("window.__xss") is None


def test_related_articles_are_buttons_that_send_their_payload(page: Page) -> None:
    payload = '/ask_help{"article":"late-parcel"}'
    bot_says(
        page,
        {
            "text": "Related articles:",
            "buttons": [{"title": "My parcel is late", "payload": payload}],
        },
    )
    page.get_by_role("button", name="My parcel is late").click()
    assert page.locator(".from-user .bubble").last.inner_text() == "My parcel is late"
    page.wait_for_function("window.__socket.emitted.length > 2")
    sent = page.evaluate("window.__socket.emitted[window.__socket.emitted.length - 1]")
    assert sent[0] == "user_uttered" and sent[1]["message"] == payload


def test_the_customers_own_text_is_shown_exactly_as_typed(page: Page) -> None:
    page.fill("#message", "**not bold** - [x](https://shop.test)")
    page.keyboard.press("Enter")
    bubble = page.locator(".from-user .bubble").last
    assert bubble.inner_text() == "**not bold** - [x](https://shop.test)"
    assert bubble.locator("strong, ul").count() == 0
