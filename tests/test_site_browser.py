"""The built site in a real browser: Debian's chromium, headless, driven by Playwright.

.ci/run installs chromium, so in CI (CI=true) a missing browser fails these tests;
on a developer machine without it they are skipped with the reason.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from mlsysim.catalog import load_catalog
from site_helpers import TODAY, build_bundled_site, chromium_browser, hostile_catalog

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
# One page of each type, as (name, path relative to the site root).
PAGE_TYPES = [
    ("home", "index.html"),
    ("zoo-hardware", "hardware/index.html"),
    ("record-h100_sxm", "hardware/h100_sxm.html"),
    ("source-hpctech-nvidia-h100", "sources/hpctech-nvidia-h100.html"),
    ("sources", "sources.html"),
    ("freshness", "freshness.html"),
    ("compare-hardware", "compare.html?kind=hardware&ids=h100_sxm,b200,mi300x"),
]
WIDTHS = (1400, 1024, 390)


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of the bundled catalog, built once for this module."""
    return build_bundled_site(tmp_path_factory, "browser")


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
            badges: document.querySelectorAll("table.claims .badge").length,
            claim_rows: document.querySelectorAll("table.claims tbody tr").length,
        })""")
        visits[url] = Visit(set(seen["ids"]), seen["links"], seen["badges"], seen["claim_rows"])
        if "/sources/" in url and "/sources/hpctech" not in url:
            continue  # a source page links only to records and sources reached elsewhere
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


def _site_url(site: Path, rel: str) -> str:
    path, _, query = rel.partition("?")
    return site.joinpath(path).as_uri() + (f"?{query}" if query else "")


# Everything that sticks out past the right edge of the viewport, except inside a
# horizontally scrollable table wrapper (which scrolls on its own).
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > window.innerWidth) out.push(`document ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
    for (const el of document.body.querySelectorAll("*")) {
        if (el.closest(".table-wrap, .visually-hidden, [hidden], .skip-link")) continue;
        const r = el.getBoundingClientRect();
        if ((r.width || r.height) && r.right > width + 0.5) out.push(`${el.tagName.toLowerCase()}.${el.className} right ${Math.round(r.right)} > ${width}`);
    }
    return out;
}"""

# Numeric cells whose content is wider than the cell (shown clipped or cut).
CLIPPED = """() => Array.from(document.querySelectorAll("td.n, th.n, .spec-item dd"))
    .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
    .map(el => `${el.textContent.trim()} (${el.scrollWidth} > ${el.clientWidth})`)"""


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_type_fits_the_viewport_and_shows_numbers_in_full(browser, real_site, width, capsys):
    """Screenshots of each page type at desktop and phone width (artifacts/site-<page>-<width>.png); nothing
    overflows the viewport horizontally except inside scrollable table wrappers; no numeric cell is clipped."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems = Problems(page)
    ARTIFACTS.mkdir(exist_ok=True)
    written = []
    for name, rel in PAGE_TYPES:
        page.goto(_site_url(real_site, rel))
        page.wait_for_load_state("load")
        assert page.evaluate(OVERFLOW) == [], (name, width)
        assert page.evaluate(CLIPPED) == [], (name, width)
        shot = ARTIFACTS / f"site-{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        written.append(shot)
    context.close()
    assert problems.seen == []
    with capsys.disabled():
        print("\nscreenshots:\n  " + "\n  ".join(str(p) for p in written))


# Every <text> of an SVG as its on-screen box, and every pair of boxes that overlap.
TEXT_OVERLAPS = """() => {
    const boxes = Array.from(document.querySelectorAll("text"))
        .map(t => ({text: t.textContent.trim(), r: t.getBoundingClientRect()}))
        .filter(b => b.text && b.r.width > 0);
    const hits = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].r, b = boxes[j].r;
        if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
            hits.push(`${boxes[i].text} / ${boxes[j].text}`);
    }
    return {count: boxes.length, hits};
}"""


def test_no_chart_label_overlaps_another(browser, real_site):
    """Every chart as the browser draws it (its own fonts): no text box overlaps another text box."""
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    charts = sorted((real_site / "charts").glob("*.svg"))
    assert len(charts) > 10
    for chart in charts:
        page.goto(chart.as_uri())
        seen = page.evaluate(TEXT_OVERLAPS)
        assert seen["count"] > 5 and seen["hits"] == [], (chart.name, seen["hits"])
    context.close()


def test_charts_have_alt_text_and_a_caption_naming_their_inputs(page, real_site):
    page.goto(real_site.joinpath("index.html").as_uri())
    figures = page.locator("figure.chart")
    assert figures.count() == 2
    for i in range(2):
        alt = figures.nth(i).locator("img").get_attribute("alt")
        assert len(alt) > 60
        assert figures.nth(i).locator("figcaption").inner_text().startswith("Inputs:")
    page.goto(real_site.joinpath("hardware", "h100_sxm.html").as_uri())
    assert "memory.bandwidth" in page.locator("figure.chart figcaption").inner_text()
    assert page.locator("figure.chart img").evaluate("img => img.complete && img.naturalWidth > 0")


def test_ticking_rows_and_comparing_draws_them_side_by_side(page, real_site):
    problems = Problems(page)
    page.goto(real_site.joinpath("hardware", "index.html").as_uri())
    button = page.locator(".compare-button")
    assert button.is_disabled()
    page.locator("#pick-h100_sxm").check()
    assert button.is_disabled() and "at least 2" in page.locator(".compare-status").inner_text()
    page.locator("#pick-b200").check()
    assert button.is_enabled()
    button.click()
    page.wait_for_load_state("load")
    assert "compare.html" in page.url and "kind=hardware" in page.url
    names = page.locator("#compare-table thead th a").all_inner_texts()
    assert sorted(names) == ["NVIDIA B200 (HGX/DGX B200, SXM)", "NVIDIA H100 SXM5 80GB"]  # in table order
    assert page.locator("#compare-table thead .badge").all_text_contents() == ["❝cited", "❝cited"]
    memory = page.locator("#compare-table tbody tr", has=page.locator("th", has_text="Memory bandwidth")).first
    assert sorted(memory.locator("td .num").all_text_contents()) == ["3.35 TB/s", "7.7 TB/s"]
    titles = memory.locator("td .num").evaluate_all("nums => nums.map(n => n.title)")
    assert any(t.startswith("Memory bandwidth: 3.35 TB/s (cited") for t in titles), titles
    assert problems.seen == []


def test_compare_by_query_string_says_what_is_wrong(page, real_site):
    base = real_site.joinpath("compare.html").as_uri()
    page.goto(base + "?kind=models&ids=llama3_8b,no_such_model,llama3_70b")
    assert page.locator("#compare-table thead th").count() == 3
    assert "no_such_model" in page.locator("#compare-message").inner_text()
    page.goto(base + "?kind=hardware&ids=h100_sxm")
    assert page.locator("#compare-wrap").is_hidden()
    assert "Choose 2 to 4 records" in page.locator("#compare-message").inner_text()
    page.goto(base + "?kind=hardware&ids=h100_sxm,b200,mi300x,a100_sxm_80gb,l4")
    assert page.locator("#compare-wrap").is_hidden()


def test_hostile_names_on_the_compare_page_stay_text(page, catalog_copy, tmp_path):
    from mlsysim.site.build import build_site

    root = hostile_catalog(catalog_copy())
    fx100 = root / "hardware" / "cloud" / "fx100.yaml"
    copy = re.sub(r"(?m)^aliases: .*$", "aliases: [FX200]", fx100.read_text().replace("fx100", "fx200"))
    fx100.with_name("fx200.yaml").write_text(copy)
    site = tmp_path / "site"
    build_site(site, root, today=TODAY)
    problems = Problems(page)
    page.goto(site.joinpath("compare.html").as_uri() + "?kind=hardware&ids=fx100,fx200")
    assert '<script>alert("pwned")</script>' in page.locator("#compare-table thead").inner_text()
    assert page.evaluate("document.scripts.length") == 2
    assert problems.seen == []
