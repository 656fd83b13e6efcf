"""The built site in a real browser: Debian's chromium, headless, driven by Playwright.

.ci/run installs chromium, so in CI (CI=true) a missing browser fails these tests;
on a developer machine without it they are skipped with the reason.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from mlsysim.catalog import load_catalog
from site_helpers import TODAY, hostile_catalog

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOT = REPO / "artifacts" / "site-record-h100_sxm.png"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it, so CI must have it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"no chromium at {CHROMIUM} (install Debian's: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install '.[test]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of the bundled catalog, built once for this module."""
    from mlsysim.site.build import build_site

    out = tmp_path_factory.mktemp("browser") / "site"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSYSIM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        mp.delenv("MLSYSIM_CATALOG", raising=False)
        build_site(out, today=TODAY)
    return out


class Problems:
    """Console errors, uncaught exceptions, failed loads and dialogs seen by a page."""

    def __init__(self, page):
        self.seen: list[str] = []
        page.on("console", lambda m: self.seen.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.seen.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self.seen.append(f"failed to load {r.url}"))
        page.on("dialog", lambda d: (self.seen.append(f"dialog: {d.message}"), d.dismiss()))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def test_home_page_loads_without_console_errors(page, real_site):
    problems = Problems(page)
    page.goto(real_site.joinpath("index.html").as_uri())
    page.wait_for_load_state("load")
    assert problems.seen == []
    assert page.title() == "mlsysim zoo: a cited catalog of ML-systems specifications"
    assert page.locator("h1").inner_text() == "The mlsysim zoo"
    assert page.locator(".kind-cards li").count() == len(load_catalog().kinds())
    # Keyboard users reach the skip link first, and it jumps to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#content"


def test_typing_in_a_zoo_filter_narrows_the_rows(page, real_site):
    problems = Problems(page)
    page.goto(real_site.joinpath("hardware", "index.html").as_uri())
    rows = page.locator("table.zoo tbody tr")
    visible = page.locator("table.zoo tbody tr:visible")
    total = rows.count()
    assert total == visible.count() == len(load_catalog().records("hardware"))
    assert page.locator("#filter-status").inner_text() == f"{total} of {total} shown"

    page.locator("#filter").press_sequentially("nvidia", delay=10)
    shown = visible.count()
    assert 0 < shown < total
    assert all("nvidia" in text.lower() for text in visible.all_inner_texts())
    assert page.locator("#filter-status").inner_text() == f"{shown} of {total} shown"

    page.locator("#filter").press_sequentially(" 2024", delay=10)  # every word must match
    assert 0 < visible.count() < shown
    page.locator("#filter").fill("no such accelerator")
    assert visible.count() == 0
    assert page.locator("section.group:visible").count() == 0  # empty tier sections hide with their rows
    page.locator("#filter").fill("")
    assert visible.count() == total
    assert problems.seen == []


def test_clicking_a_heading_sorts_numerically_with_blanks_last(page, real_site):
    page.goto(real_site.joinpath("hardware", "index.html").as_uri())
    table = page.locator("table.zoo").first
    heading = table.locator("thead th", has_text="Bandwidth")
    column = heading.evaluate("th => th.cellIndex")

    def keys() -> list[str]:
        return table.locator("tbody tr").evaluate_all(f"rows => rows.map(r => r.cells[{column}].dataset.sort || '')")

    heading.locator("button").click()
    assert heading.get_attribute("aria-sort") == "ascending"
    numbers = [float(k) for k in keys() if k]
    assert numbers == sorted(numbers) and len(numbers) > 5
    assert keys()[len(numbers):] == [""] * (len(keys()) - len(numbers))
    heading.locator("button").click()
    assert heading.get_attribute("aria-sort") == "descending"
    assert [float(k) for k in keys() if k] == sorted(numbers, reverse=True)


@dataclass
class Visit:
    ids: set[str]
    links: list[str]  # absolute URLs as the browser resolved them
    badges: int
    claim_rows: int


@pytest.fixture(scope="module")
def crawl(browser, real_site) -> tuple[dict[str, Visit], list[str]]:
    """Every page reachable from the home page, visited once: what each holds, and any problems seen."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = Problems(page)
    queue, visits = deque([real_site.joinpath("index.html").as_uri()]), {}
    while queue:
        url = queue.popleft()
        if url in visits:
            continue
        page.goto(url)
        seen = page.evaluate("""() => ({
            ids: Array.from(document.querySelectorAll("[id]"), e => e.id),
            links: Array.from(document.querySelectorAll("[href], [src]"), e => e.href || e.src),
            badges: document.querySelectorAll(".badge").length,
            claim_rows: document.querySelectorAll("table.claims tbody tr").length,
        })""")
        visits[url] = Visit(set(seen["ids"]), seen["links"], seen["badges"], seen["claim_rows"])
        for link in visits[url].links:
            target = urldefrag(link)[0]
            if target.startswith("file:") and target.endswith(".html"):
                queue.append(target)
    context.close()
    return visits, problems.seen


def _path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def test_every_internal_link_resolves(crawl, real_site):
    """Crawl from the home page: every href and src inside the site names an existing file,
    and every #fragment an element on its page; no page logs an error; every page is reachable."""
    visits, problems = crawl
    root = real_site.resolve()
    for url, visit in visits.items():
        for link in visit.links:
            target, fragment = urldefrag(link)
            if not target.startswith("file:"):
                assert urlparse(target).scheme in ("http", "https"), (url, link)
                continue
            assert _path(target).is_file(), f"{url} links to missing {_path(target)}"
            assert root in _path(target).parents, f"{url} links outside the site: {link}"
            if fragment and target.endswith(".html"):
                assert unquote(fragment) in visits[target].ids, f"{url} links to missing #{fragment} in {target}"
    assert problems == []
    pages = {_path(u).relative_to(root).as_posix() for u in visits}
    assert pages == {p.relative_to(root).as_posix() for p in root.rglob("*.html")}
    assert len(pages) >= 130


def test_badges_on_each_record_page_equal_its_numeric_values(crawl, real_site):
    from mlsysim.catalog import load_catalog

    visits, _ = crawl
    catalog = load_catalog()
    for record in catalog.records():
        visit = visits[real_site.joinpath(record.kind, f"{record.id}.html").as_uri()]
        assert (visit.badges, visit.claim_rows) == (len(record.values()), len(record.values())), record.ref
    assert len(catalog.records()) > 100


def test_hostile_record_page_runs_nothing(page, catalog_copy, tmp_path):
    from mlsysim.site.build import build_site

    site = tmp_path / "site"
    build_site(site, hostile_catalog(catalog_copy()), today=TODAY)
    problems = Problems(page)
    for rel in ("hardware/fx100.html", "hardware/index.html", "sources.html", "freshness.html", "models/fixture_lm.html"):
        page.goto(site.joinpath(rel).as_uri())
        page.locator("main a, main span.badge").first.hover()
    page.goto(site.joinpath("hardware", "fx100.html").as_uri())
    assert '<script>alert("pwned")</script>' in page.locator("h1").inner_text()  # shown as text
    assert page.evaluate("document.scripts.length") == 1
    assert problems.seen == []


def test_screenshot_of_a_record_page(page, real_site, capsys):
    page.set_viewport_size({"width": 1360, "height": 1000})
    page.goto(real_site.joinpath("hardware", "h100_sxm.html").as_uri())
    page.wait_for_load_state("load")
    assert page.locator("figure.chart img").evaluate("img => img.complete && img.naturalWidth > 0")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 50_000
    with capsys.disabled():
        print(f"\nscreenshot of a record page: {SCREENSHOT}")
