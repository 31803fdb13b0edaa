"""The insights page in a real browser (Debian's Chromium): sign in with the operator token,
every chart drawn, nothing fetched from elsewhere, and the not-understood messages exported
as Rasa NLU data. Screenshots go to results/screenshots/ (not in git)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from tests.chromium import chromium
from tests.conftest import PROJECT_ROOT
from tests.insights.conftest import InsightsServer

SCREENSHOTS = PROJECT_ROOT / "results" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, server: InsightsServer, token: str) -> None:
    page.goto(f"{server.url}/insights/")
    assert page.url.endswith("/insights/login"), "nobody sees the page without the token"
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")


def test_a_wrong_token_is_turned_away(page: Page, insights: InsightsServer) -> None:
    sign_in(page, insights, "not-the-operator-token")
    assert page.locator(".error").inner_text() == "That token is not right."
    shot(page, "insights-wrong-token")


def test_a_support_lead_reads_every_section_in_pictures(
    page: Page, insights: InsightsServer
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, insights, insights.token)
    page.wait_for_selector("h1:has-text('Support bot insights')")
    for section in (
        "conversations",
        "understanding",
        "mood",
        "feedback",
        "recommendations",
        "bandit",
        "experiments",
        "bias",
        "drift",
        "quality",
    ):
        assert page.locator(f"section#{section}").is_visible(), section
    images = page.locator("main img")
    sources = [images.nth(i).get_attribute("src") or "" for i in range(images.count())]
    assert len(sources) >= 20
    assert all(src.startswith("data:image/svg+xml;base64,") for src in sources)
    rendered = page.evaluate(
        "Array.from(document.querySelectorAll('main img')).every(i => i.naturalWidth > 0)"
    )
    assert rendered, "every chart is a picture the browser could draw"
    text = page.locator("main").inner_text()
    assert "Fallback rate over the period" in text and "do you ship to norway" in text
    assert "style-bandit-vs-fixed" in text and "No significant difference" in text
    assert "Demographic-parity gaps" in text
    assert "orders.csv.gz" in text and "880 of 1,000 rows imported" in text
    assert all(url.startswith(insights.url) for url in requested), "nothing from elsewhere"
    shot(page, "insights-overview")
    page.locator("section#bias").screenshot(path=str(SCREENSHOTS / "insights-bias-audit.png"))
    page.locator("section#experiments").screenshot(
        path=str(SCREENSHOTS / "insights-experiments.png")
    )


def test_the_not_understood_messages_export_as_rasa_training_data(
    page: Page, insights: InsightsServer
) -> None:
    sign_in(page, insights, insights.token)
    with page.expect_download() as download:
        page.click("#export-nlu")
    path = download.value.path()
    assert download.value.suggested_filename.startswith("nlu-candidates-")
    data = RasaYAMLReader().reads(Path(path).read_text(encoding="utf-8"))
    examples = {m.get("text"): m.get("intent") for m in data.training_examples}
    assert "do you ship to norway" in examples
    assert "nlu_fallback" not in examples.values(), "each under the model's best guess"
