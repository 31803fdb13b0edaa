"""The web chat page in headless Chromium against the running stack, as a customer uses it.

The stack runs in demo mode with a customer token secret. A signed-in customer is one whose
page carries a customer token in ``#chat[data-customer-token]``, as the shop's backend would
render it; these tests put it there by serving the real page with the token filled in. The
demo link ``?customer=cust-0001`` gets its token from the page's demo-token route instead.

Screenshots of each step go to results/screenshots/ (not in git). If Chromium cannot start,
the tests fail with the reason; they are never skipped.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import socketio
from playwright.sync_api import Browser, Page, Request, Route, WebSocket, expect

from personalization.auth.tokens import mint_token
from personalization.settings import DatabaseSettings
from personalization.store import Database
from personalization.store.customers import Customer, CustomerRepository
from tests.chromium import chromium
from tests.conftest import PROJECT_ROOT
from tests.e2e.stack import (
    AUDIENCE,
    RunningStack,
    any_welcome_back,
    order_prefix,
    query,
    variants,
)

pytestmark = pytest.mark.e2e

SCREENSHOTS = PROJECT_ROOT / "results" / "screenshots"
PHONE = {"width": 390, "height": 780}
REPLY_TIMEOUT_MS = 30_000
MARKUP = '<img src="x" onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>'
MARKUP_NAME = "<img/src=x/onerror=window.__xss=3>"  # one word: the bot greets by first name
CHAT_PATH = "/webhooks/chat/"
TOKEN_SLOT = 'data-customer-token=""'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE)
    opened = context.new_page()
    opened.set_default_timeout(REPLY_TIMEOUT_MS)
    yield opened
    context.close()


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def bot_texts(page: Page) -> list[str]:
    return page.locator(".from-bot .bubble").all_inner_texts()


def wait_for_bot_messages(page: Page, count: int) -> None:
    expect(page.locator(".from-bot .bubble")).to_have_count(count, timeout=REPLY_TIMEOUT_MS)


def wait_for_more_than(page: Page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('.from-bot .bubble').length > n", arg=count
    )


def last_bot_text_in(page: Page, response: str) -> None:
    pattern = "|".join(re.escape(t) for t in variants(response))
    expect(page.locator(".from-bot .bubble").last).to_have_text(re.compile(f"^({pattern})$"))


def sign_in_page(page: Page, token: str) -> None:
    """Serve the chat page as the shop's signed-in page would be: the real page from the
    server, with its headers (the Content-Security-Policy too), and the customer token its
    backend minted in ``#chat``'s data-customer-token."""

    def fill_in_token(route: Route) -> None:
        served = route.fetch()
        body = served.text()
        assert body.count(TOKEN_SLOT) == 1, "the page has one slot for the customer token"
        headers = {k: v for k, v in served.headers.items() if k.lower() != "content-length"}
        assert "content-security-policy" in {k.lower() for k in headers}
        route.fulfill(
            status=served.status,
            headers=headers,
            body=body.replace(TOKEN_SLOT, f'data-customer-token="{html.escape(token)}"'),
        )

    page.route(lambda url: urlsplit(url).path == CHAT_PATH, fill_in_token)


def open_chat(
    page: Page, stack: RunningStack, customer_id: str | None = None, token: str | None = None
) -> None:
    """Open the chat: as a visitor; with ``customer_id``, by the demo link ``?customer=``;
    with ``token``, as the shop's page for a signed-in customer (with both, the page's token
    is what counts)."""
    if token is not None:
        sign_in_page(page, token)
    query_string = f"?customer={customer_id}" if customer_id else ""
    page.goto(f"{stack.base_url}{CHAT_PATH}{query_string}")
    expect(page.locator("#status")).to_have_text("Online")
    expect(page.locator(".from-bot .bubble").first).to_be_visible()


def record_sent_messages(page: Page) -> list[str]:
    """What the page sends to the server over socket.io, by WebSocket or long polling."""
    sent: list[str] = []

    def on_websocket(socket: WebSocket) -> None:
        socket.on("framesent", lambda payload: sent.append(str(payload)))

    def on_request(request: Request) -> None:
        if "/socket.io/" in request.url and request.method == "POST":
            sent.append(request.post_data or "")

    page.on("websocket", on_websocket)
    page.on("request", on_request)
    return sent


def record_demo_token_requests(page: Page) -> list[str]:
    """The URLs of the page's requests for a demo customer token."""
    asked: list[str] = []

    def on_request(request: Request) -> None:
        if urlsplit(request.url).path == f"{CHAT_PATH}demo-token":
            asked.append(request.url)

    page.on("request", on_request)
    return asked


def say(page: Page, text: str) -> None:
    page.fill("#message", text)
    page.keyboard.press("Enter")


def session_id(page: Page) -> str:
    """The session id the page keeps (one conversation per test, so one stored chat)."""
    stored = page.evaluate(
        """() => Object.keys(sessionStorage)
            .filter(key => key.startsWith('hearth-chat:'))
            .map(key => JSON.parse(sessionStorage.getItem(key)))"""
    )
    assert len(stored) == 1, stored
    return stored[0]["sessionId"]


def conversation_id(page: Page) -> str:
    """The id the server keeps the page's conversation under."""
    return f"web:{session_id(page)}"


def test_a_signed_in_shop_page_greets_its_customer_by_name(page: Page, stack: RunningStack) -> None:
    token = stack.token("cust-0002")
    sent = record_sent_messages(page)
    asked = record_demo_token_requests(page)
    open_chat(page, stack, token=token)
    greeting = bot_texts(page)
    assert greeting[0] in any_welcome_back("Bruno"), greeting
    assert page.locator("#chat").get_attribute("data-customer-token") == token
    messages = [m for m in sent if "user_uttered" in m]
    assert messages, "the greeting was sent"
    assert all(f'"customer_token":"{token}"' in m for m in messages), messages
    assert not any("customer_id" in m for m in sent), "the page never claims an id"
    assert asked == [], "a page with a token asks for no demo token"
    shot(page, "00-signed-in-page-personal-greeting")


def test_the_demo_link_greets_the_demo_customer(page: Page, stack: RunningStack) -> None:
    asked = record_demo_token_requests(page)
    sent = record_sent_messages(page)
    open_chat(page, stack, "cust-0001")
    assert bot_texts(page)[0] in any_welcome_back("Alice")
    assert len(asked) == 1 and asked[0].endswith("demo-token?customer=cust-0001"), asked
    messages = [m for m in sent if "user_uttered" in m]
    assert messages and all('"customer_token":"' in m for m in messages), messages
    assert not any("customer_id" in m for m in sent)


@pytest.mark.parametrize(
    "forgery",
    ["another-shops-key", "expired", "bare-customer-id", "alg-none"],
)
def test_a_page_with_a_forged_token_is_anonymous_whatever_its_link_says(
    page: Page, stack: RunningStack, forgery: str
) -> None:
    token = {
        "another-shops-key": mint_token(
            "cust-0001", "another-shops-secret-0123456789abcdef", AUDIENCE
        ),
        "expired": stack.token("cust-0001", now=time.time() - 3600),
        "bare-customer-id": "cust-0001",
        "alg-none": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjdXN0LTAwMDEifQ.",
    }[forgery]
    asked = record_demo_token_requests(page)
    open_chat(page, stack, "cust-0001", token=token)
    wait_for_bot_messages(page, 2)  # the welcome and the question, nothing personal between
    texts = bot_texts(page)
    assert texts[0] in variants("utter_welcome"), texts
    assert texts[1] in variants("utter_greet"), texts
    assert not any("Alice" in t or "DEMO-" in t for t in texts), "nothing of Alice's is shown"
    assert asked == [], "the page's own token counts, not the link"
    shot(page, f"00-forged-token-anonymous-{forgery}")


def test_a_known_customer_chats_sees_cards_clicks_gives_feedback_and_reloads(
    page: Page, stack: RunningStack
) -> None:
    open_chat(page, stack, "cust-0001")
    wait_for_bot_messages(page, 3)
    greeting = bot_texts(page)
    assert greeting[0] in any_welcome_back("Alice")
    assert order_prefix("cust-0001") in greeting[1]
    shot(page, "01-personal-greeting")

    page.evaluate(
        """() => { window.__typingShown = false;
        new MutationObserver(() => { if (!document.getElementById('typing').hidden)
            window.__typingShown = true; })
          .observe(document.getElementById('typing'), {attributes: true}); }"""
    )
    say(page, "any gift ideas?")
    cards = page.locator(".card")
    expect(cards).to_have_count(4)
    assert page.evaluate("window.__typingShown"), "the typing indicator showed while waiting"
    first = cards.first
    name = first.locator("h3").inner_text()
    assert re.fullmatch(r"£\d+\.\d\d", first.locator(".price").inner_text())
    assert first.locator(".why").inner_text().startswith("Why this: ")
    whys = cards.locator(".why").all_inner_texts()
    assert any("Because you bought" in why for why in whys), whys
    shot(page, "02-recommendation-cards")

    first.get_by_role("button", name=f"Tell me more about {name}").click()
    expect(page.locator(".from-user .bubble").last).to_have_text(f"Tell me more about {name}")
    expect(page.locator(".from-bot .bubble").last).to_contain_text(name)
    conversation = conversation_id(page)
    clicked = query(
        stack,
        "SELECT count(*) FROM interactions WHERE customer_id = 'cust-0001' "
        "AND kind = 'recommendation_clicked'",
    )
    assert clicked[0][0] >= 1
    shot(page, "03-product-details-after-click")

    say(page, "where is my order?")
    thumbs_up = page.get_by_role("button", name="Yes, this helped")
    expect(thumbs_up).to_be_enabled()
    shot(page, "04-was-this-helpful")
    thumbs_up.click()
    last_bot_text_in(page, "utter_ask_csat")
    expect(thumbs_up).to_be_disabled()
    page.get_by_role("button", name="5", exact=True).click()
    last_bot_text_in(page, "utter_csat_thanks")
    assert query(
        stack,
        "SELECT customer_id, kind, value FROM feedback WHERE conversation_id = %s ORDER BY id",
        conversation,
    ) == [("cust-0001", "thumbs", 1), ("cust-0001", "csat", 5)]
    shot(page, "05-thumbs-up-and-csat-recorded")

    before = page.locator(".message").all_inner_texts()
    page.reload()
    expect(page.locator("#status")).to_have_text("Online")
    assert page.locator(".message").all_inner_texts() == before, "the history survives"
    assert conversation_id(page) == conversation
    say(page, "are you a bot?")
    last_bot_text_in(page, "utter_iamabot")
    # Rasa saves the conversation just after the reply went out: wait for that save.
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    deadline = time.monotonic() + 10
    try:
        while True:
            tracker = client.get(f"{stack.key_prefix}:tracker:{conversation}") or ""
            if "are you a bot?" in tracker or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        client.close()
    assert "any gift ideas?" in tracker and "are you a bot?" in tracker
    shot(page, "06-after-reload-same-conversation")


def test_article_answers_carry_a_working_link(page: Page, stack: RunningStack) -> None:
    open_chat(page, stack)
    say(page, "how long does delivery take?")
    link = page.locator(".from-bot .bubble a").first
    expect(link).to_be_visible()
    href = link.get_attribute("href") or ""
    assert href.startswith(f"{stack.base_url}/webhooks/chat/help/")
    assert link.get_attribute("rel") == "noopener noreferrer"
    # The article's title, once in bold above the excerpt and as the link's text; no raw URL
    # and no Markdown marks on the page.
    title = page.locator(".from-bot .bubble strong").first.inner_text()
    assert link.inner_text() == title and not title.startswith("http")
    texts = "\n".join(bot_texts(page))
    assert "**" not in texts and "](" not in texts and "•" not in texts
    shot(page, "07-article-with-link")
    with page.context.expect_page() as opened:
        link.click()
    article = opened.value
    article.wait_for_load_state()
    expect(article.locator("h1")).to_be_visible()
    assert article.locator("main.article p").count() >= 1


def test_markup_from_the_customer_or_the_bot_is_shown_as_text(
    page: Page, stack: RunningStack
) -> None:
    # A signed-in customer whose stored name is markup: the bot greets them with it, as text.
    customer_id = f"cust-x{uuid.uuid4().hex[:6]}"
    db = Database(DatabaseSettings(url=stack.database_url))
    try:
        CustomerRepository(db).upsert(Customer(customer_id, f"{MARKUP_NAME} Smith", None, "France"))
    finally:
        db.close()
    open_chat(page, stack, token=stack.token(customer_id))
    expect(page.locator(".from-bot .bubble").first).to_contain_text(MARKUP_NAME)
    answered = len(bot_texts(page))
    say(page, MARKUP)
    expect(page.locator(".from-user .bubble").last).to_have_text(MARKUP)
    wait_for_more_than(page, answered)
    assert page.locator("#transcript img, #transcript script, #transcript b").count() == 0
    assert page.evaluate("window.__xss") is None, "no script in a message ran"
    shot(page, "08-markup-shown-as-text")


def test_usable_on_a_phone_with_the_keyboard_alone(page: Page, stack: RunningStack) -> None:
    open_chat(page, stack, "cust-0001")
    wait_for_bot_messages(page, 3)  # the greeting, before the customer types
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "nothing overflows a phone-sized screen"
    page.keyboard.type("where is my order?")  # the message box has the focus on load
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="No, this did not help")).to_be_enabled()
    for _ in range(20):  # Shift+Tab from the message box back to the reply buttons
        page.keyboard.press("Shift+Tab")
        focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
        if focused == "Yes, this helped":
            break
    else:
        pytest.fail("Tab never reached the thumbs-up button")
    page.keyboard.press("Enter")
    expect(page.locator(".from-user .bubble").last).to_have_text("👍 Yes")
    shot(page, "09-keyboard-only-on-a-phone")


def test_the_server_issues_session_ids_so_none_can_be_chosen(stack: RunningStack) -> None:
    client = socketio.SimpleClient()
    client.connect(stack.base_url, transports=["polling"], socketio_path="socket.io")
    try:
        client.emit("session_request", {"session_id": "cust-0001"})
        event, issued = client.receive(timeout=10)
    finally:
        client.disconnect()
    assert event == "session_confirm"
    assert issued != "cust-0001" and re.fullmatch(r"[0-9a-f]{32}", issued)
