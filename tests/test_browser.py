"""The story browser in a real browser: Playwright driving Debian's headless Chromium
(/usr/bin/chromium; `.ci/run` installs it) against a live server holding stories of the bundled
EgyNews day (its first articles, embedded with the default model) and the seed page."""

from __future__ import annotations

import os
import re
import shutil

import httpx
import pytest

from clustering import Config
from clustering.io.page import read_page
from clustering.io.readers import read_articles
from clustering.service import create_app

from .conftest import EGY_DAY, SEED_PAGE
from .live_server import live_server
from .test_service import records

pytestmark = pytest.mark.slow  # embeds with the model

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
DAY_ARTICLES = 150
SCRIPT_TITLE = "<script>window.__injected = 1</script> Cairo metro fares <b>rise</b> & commuters protest"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        msg = f"{CHROMIUM} missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(msg)  # CI installs it: its absence is a broken set-up, not a skip
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A live server with stories: (base url, the day's stories from the JSON API, answer for the
    article whose title holds markup)."""
    db = tmp_path_factory.mktemp("browser") / "b.duckdb"
    day = records(read_articles([EGY_DAY]).articles[:DAY_ARTICLES])
    seed = records(read_page(SEED_PAGE)[0])
    with live_server(create_app(db, config=Config())) as base:
        assert httpx.post(base + "/v1/articles", json=day, timeout=600).status_code == 200
        assert httpx.post(base + "/v1/articles", json=seed, timeout=600).status_code == 200
        scripted = httpx.post(base + "/v1/articles", timeout=600, json={
            "id": "markup-title", "title": SCRIPT_TITLE, "source": "test-outlet",
            "published": "2013-02-01T12:00:00Z",
            "text": "Commuters gathered at Sadat station on Friday after the fare rise was announced."}).json()
        stories = httpx.get(base + "/v1/stories", params={
            "since": "2013-02-01T00:00:00Z", "until": "2013-02-01T23:59:59Z", "limit": 1000}).json()["stories"]
        yield base, stories, scripted


def test_stories_page_lists_the_days_stories_largest_first(browser, site):
    base, stories, _ = site
    page = browser.new_page()
    page.goto(base + "/stories")
    assert page.locator("h1").inner_text() == "Stories of 2013-02-01"
    rows = page.locator("tr.story")
    assert rows.count() == len(stories) > 10
    hrefs = [rows.nth(i).locator("a").get_attribute("href") for i in range(rows.count())]
    assert hrefs == [f"/stories/{s['story_id']}" for s in stories]
    sizes = [int(rows.nth(i).locator("td").first.inner_text()) for i in range(rows.count())]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 1
    top = rows.first.inner_text()
    assert stories[0]["label_terms"][0] in top and next(iter(stories[0]["sources"])) in top
    page.close()


def test_a_click_opens_the_story_timeline(browser, site):
    base, stories, _ = site
    page = browser.new_page()
    page.goto(base + "/stories")
    first = page.locator("tr.story a").first.get_attribute("href")
    assert first.endswith("/stories/" + stories[0]["story_id"])   # largest first, as the API lists
    # click the largest story with dated articles (the seed page's items have no time, so their
    # stories have no hourly plot)
    dated = next(s for s in stories if s["first_seen"])
    page.locator(f"tr.story a[href$='/stories/{dated['story_id']}']").click()
    page.wait_for_url(re.compile(r".*/stories/S\d+$"))
    sid = page.url.rsplit("/", 1)[1]
    assert sid == dated["story_id"]
    t = httpx.get(base + f"/v1/stories/{sid}").json()
    # the page shows the headline as HTML renders text: runs of spaces collapse to one
    assert page.locator("h1").inner_text() == " ".join(t["headline"].split())
    groups = {a["dup_group"] for a in t["articles"]}
    assert page.locator("tr.article").count() == len(groups)   # near-duplicate copies folded
    assert page.locator("li.event").first.inner_text().split()[2] == "created"
    bars = page.locator("svg.hourly rect")
    assert bars.count() > len({a["source"] for a in t["articles"]})   # bars plus legend swatches
    page.close()


def test_copies_are_folded_under_their_representative(browser, site):
    base, stories, _ = site
    sid = next(s["story_id"] for s in stories if s["size"] > s["units"])   # a story holding copies
    t = httpx.get(base + f"/v1/stories/{sid}").json()
    page = browser.new_page()
    page.goto(base + f"/stories/{sid}")
    details = page.locator("details.copies")
    assert details.count() >= 1
    assert not details.first.locator("ul").is_visible()
    details.first.locator("summary").click()
    assert details.first.locator("ul").is_visible()
    copies = page.locator("details.copies li").count()
    assert copies + page.locator("tr.article").count() == len(t["articles"])
    page.close()


def test_arabic_renders_right_to_left_and_latin_left_to_right(browser, site):
    base, stories, scripted = site
    page = browser.new_page()
    page.goto(base + f"/stories/{stories[0]['story_id']}")
    cell = page.locator("tr.article td.title").first
    assert re.search("[\u0600-\u06ff]", cell.inner_text())
    assert cell.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert page.locator("h1").evaluate("el => getComputedStyle(el).direction") == "rtl"
    page.goto(base + f"/stories/{scripted['story_id']}")
    latin = page.locator("tr.article td.title", has_text="Cairo metro fares")
    assert latin.evaluate("el => getComputedStyle(el).direction") == "ltr"
    page.close()


def test_a_title_holding_script_shows_as_text(browser, site):
    base, _, scripted = site
    page = browser.new_page()
    page.goto(base + f"/stories/{scripted['story_id']}")
    assert SCRIPT_TITLE.replace("<b>", "").replace("</b>", "") not in page.content()
    cell = page.locator("tr.article td.title", has_text="Cairo metro fares")
    assert cell.inner_text().startswith(SCRIPT_TITLE)
    assert page.evaluate("() => document.querySelectorAll('script, td.title b').length") == 0
    assert page.evaluate("() => window.__injected") is None
    page.goto(base + "/stories")
    assert page.evaluate("() => document.querySelectorAll('script').length") == 0
    page.close()
