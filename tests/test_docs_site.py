"""The documentation site (`mlsysim site build --docs`): built once per test session, then
read as HTML and driven in Debian's chromium (skipped without it, failing in CI).

The site is built once for the whole session even under xdist: the first worker builds it
under a file lock into the session's shared temporary directory, the others reuse it.
"""

from __future__ import annotations

import fcntl
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

import mlsysim
from mlsysim.errors import MlsysimError
from mlsysim.site.docs import ZOO_DIR, build_docs, tutorial_files
from mlsysim.site.docs_pages import exported_names, module_doc, public_modules, solver_modules
from site_helpers import chromium_browser

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
ARTIFACTS = REPO / "artifacts"


@pytest.fixture(scope="session")
def docs_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs site of the bundled catalog, built once per session (shared by xdist workers)."""
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    out = shared / "docs-site"
    with open(shared / "docs-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (out / "index.html").is_file():
                failed = shared / "docs-site.failed"
                if failed.exists():
                    pytest.fail(f"the docs build failed in another worker:\n{failed.read_text()}")
                with pytest.MonkeyPatch.context() as mp:
                    mp.setenv("MLSYSIM_CACHE_DIR", str(shared / "docs-cache"))
                    mp.delenv("MLSYSIM_CATALOG", raising=False)
                    try:
                        build_docs(out, jobs=1)
                    except Exception as exc:
                        failed.write_text(str(exc), encoding="utf-8")
                        raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return out


class Links(HTMLParser):
    """Every href/src of a page, and the ids it defines."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.ids: set[str] = set()
        self.imgs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        for name in ("href", "src"):
            if a.get(name):
                self.refs.append((tag, name, a[name] or ""))
        if tag == "img":
            self.imgs.append(a)


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def docs_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if p.relative_to(site).parts[0] != ZOO_DIR)


# ---- the build ------------------------------------------------------------------------------

def test_the_site_has_every_section(docs_site: Path) -> None:
    for rel in ("index.html", "getting-started.html", "tutorials/index.html", "math/index.html", "glossary.html",
                "api/index.html", "labs.html", "about.html", "search.html", f"{ZOO_DIR}/index.html",
                f"{ZOO_DIR}/hardware/h100_sxm.html"):
        assert (docs_site / rel).is_file(), rel
    assert (docs_site / ".mlsysim-site").is_file(), "the marker that lets a rebuild replace the directory"


def test_tutorials_were_executed_with_figures_that_have_alt_text(docs_site: Path) -> None:
    for source in tutorial_files(DOCS):
        page = docs_site / "tutorials" / f"{source.stem}.html"
        html = page.read_text(encoding="utf-8")
        assert "cell_output" in html, f"{page.name}: no executed output"
        assert "Traceback (most recent call last)" not in html, f"{page.name}: a traceback was rendered"
        images = [img for img in parse(page).imgs if "_images/" in (img.get("src") or "")]
        if "plt.subplots" in source.read_text(encoding="utf-8") or "plot_roofline" in source.read_text(encoding="utf-8"):
            assert images, f"{page.name}: a tutorial that draws has no rendered figure"
        for img in images:
            assert (img.get("alt") or "").strip(), f"{page.name}: an image has no alt text: {img.get('src')}"
            assert (page.parent / unquote(img["src"] or "")).is_file(), img["src"]
        assert html.count("<figcaption>") >= len(images), f"{page.name}: a figure has no caption"


def test_a_tutorial_prints_what_the_code_returns_today(docs_site: Path) -> None:
    """The roofline tutorial's ridge point is the catalog's peak / bandwidth, as computed now."""
    a100 = mlsysim.Hardware.Cloud.A100
    ridge = a100.compute.fp16.si / a100.memory.bandwidth.si
    html = (docs_site / "tutorials" / "roofline.html").read_text(encoding="utf-8")
    assert f"A100 fp16 ridge point: {ridge:.1f} FLOP/B" in html


def test_no_page_loads_anything_from_the_network(docs_site: Path) -> None:
    """No CDN: scripts, stylesheets, images and fonts are all local files."""
    for page in docs_pages(docs_site):
        for tag, attr, url in parse(page).refs:
            if tag in ("script", "link", "img", "source", "iframe") and attr in ("src", "href"):
                assert not urlparse(url).scheme and not url.startswith("//"), f"{page.relative_to(docs_site)}: {tag} {url}"


def test_every_internal_link_resolves(docs_site: Path) -> None:
    missing = []
    ids: dict[Path, set[str]] = {}  # each target page is parsed once, however many links point into it
    for page in docs_pages(docs_site):
        for _, _, url in parse(page).refs:
            parsed = urlparse(url)
            if parsed.scheme or url.startswith(("//", "mailto:", "#", "javascript:")):
                continue
            path, fragment = urldefrag(url)
            target = (page.parent / unquote(urlparse(path).path)).resolve()
            if not target.exists():
                missing.append(f"{page.relative_to(docs_site)} -> {url}")
                continue
            if fragment and target.suffix == ".html" and target not in ids:
                ids[target] = parse(target).ids
            if fragment and target.suffix == ".html" and fragment not in ids[target]:
                missing.append(f"{page.relative_to(docs_site)} -> {url} (no id {fragment!r})")
    assert not missing, "\n".join(missing[:30])


def test_docs_and_zoo_share_one_navigation(docs_site: Path) -> None:
    """The docs header links the zoo; every zoo page's header links back to the docs."""
    home = (docs_site / "index.html").read_text(encoding="utf-8")
    assert 'class="site-header"' in home and 'href="zoo/index.html"' in home
    for rel in ("index.html", "hardware/index.html", "hardware/h100_sxm.html"):
        page = docs_site / ZOO_DIR / rel
        links = [url for _, attr, url in parse(page).refs if attr == "href"]
        root = "../" * rel.count("/") + "../"
        assert f"{root}index.html" in links and f"{root}api/index.html" in links, (rel, links[:12])
        assert 'class="site-header"' in page.read_text(encoding="utf-8")
    # the zoo's own look and macros are unchanged: its stylesheet and the badge classes
    record = (docs_site / ZOO_DIR / "hardware" / "h100_sxm.html").read_text(encoding="utf-8")
    assert 'class="badge badge-' in record and "static/site.css" in record


def test_the_api_reference_documents_every_public_name(docs_site: Path) -> None:
    """Every name exported by mlsysim and mlsysim.solvers (reference aliases included) is
    listed and linked to an anchor that exists; every public class and function of every
    public module has its own anchor."""
    index = (docs_site / "api" / "index.html").read_text(encoding="utf-8")
    anchors: set[str] = set()
    for page in (docs_site / "api").glob("*.html"):
        anchors |= parse(page).ids
    for name, target, _ in exported_names():
        assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{name}</span></code>" in index, name
        assert target in anchors, f"{name} -> {target}: no anchor in the API pages"
    assert "mlsysim.solvers.SingleNodeModel" in index
    for module in public_modules():
        for attr in module_doc(module).defined:
            assert f"{module}.{attr}" in anchors, f"{module}.{attr} is not documented"


def test_math_pages_come_from_the_solver_docstrings(docs_site: Path) -> None:
    """One page per solver module, carrying its docstring's References and each physics
    function with its parameters, so the page says what the code says."""
    import importlib

    for module in solver_modules():
        short = module.rsplit(".", 1)[1]
        page = docs_site / "math" / f"{short}.html"
        assert page.is_file(), module
        html = page.read_text(encoding="utf-8")
        doc = importlib.import_module(module).__doc__ or ""
        if "References" in doc:
            assert "References" in html, f"{page.name}: the module's References are missing"
            first_reference = doc.split("References", 1)[1].split("----------", 1)[-1].strip().split()[0]
            assert first_reference.strip(",") in html, (page.name, first_reference)
        for fn in module_doc(module).functions:
            assert f"{module}.{fn}" in html or f">{fn}<" in html, f"{page.name}: {fn} missing"
    roofline = (docs_site / "math" / "roofline.html").read_text(encoding="utf-8")
    assert "Williams" in roofline and "ridge_point" in roofline


def test_the_glossary_defines_the_terms_the_tutorials_use(docs_site: Path) -> None:
    html = (docs_site / "glossary.html").read_text(encoding="utf-8")
    for term in ("Ridge point", "KV cache", "TTFT", "Pipeline bubble", "ZeRO", "PUE", "Embodied carbon",
                 "Lifecycle / direct basis", "Lineage", "Badge"):
        assert f">{term}<" in html, term


# ---- failures -------------------------------------------------------------------------------

def test_a_failing_tutorial_cell_fails_the_build(tmp_path: Path) -> None:
    """The build stops with an error naming the tutorial and the exception; nothing is
    left at --out. (The API and math pages are excluded to keep this test quick.)"""
    source = tmp_path / "docs"
    source.mkdir()
    for item in ("conf.py", "_theme"):
        src = DOCS / item
        if src.is_dir():
            import shutil

            shutil.copytree(src, source / item)
        else:
            (source / item).write_bytes(src.read_bytes())
    (source / "tutorials").mkdir()
    (source / "index.md").write_text("# Docs\n\n```{toctree}\ntutorials/broken\n```\n", encoding="utf-8")
    (source / "tutorials" / "broken.md").write_text(
        "---\nfile_format: mystnb\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n# Broken\n\n"
        "```{code-cell} ipython3\nprint('fine so far')\n```\n\n"
        "```{code-cell} ipython3\nraise ValueError('this tutorial cell is broken')\n```\n",
        encoding="utf-8",
    )
    out = tmp_path / "site"
    with pytest.raises(MlsysimError, match=r"(?s)broken.*this tutorial cell is broken"):
        build_docs(out, source=source, sphinx_overrides={"extensions": ["myst_nb"]})
    assert not out.exists()
    assert not list(tmp_path.glob(".site.*")), "a staging directory was left behind"


def test_out_that_is_not_a_site_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me", encoding="utf-8")
    with pytest.raises(MlsysimError, match="is not a site built by mlsysim"):
        build_docs(out)
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "keep me"


def test_cli_docs_build_reports_bad_options(cli) -> None:
    result = cli("site", "build", "--docs", "--base-url", "https://example.org/")
    assert result.code == 1
    assert "Error: --base-url applies to the zoo-only build" in result.err
    assert "Traceback" not in result.err


# ---- in the browser -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


# Everything that sticks out past the viewport's right edge, except content inside a
# horizontally scrollable box (code, wide tables), which scrolls instead.
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > window.innerWidth) out.push(`document ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
    const scrolls = el => { const s = getComputedStyle(el); return s.overflowX === "auto" || s.overflowX === "scroll"; };
    for (const el of document.body.querySelectorAll("*")) {
        if (el.closest(".visually-hidden, [hidden], .skip-link")) continue;
        let inside = false;
        for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) if (scrolls(p)) { inside = true; break; }
        if (inside) continue;
        const r = el.getBoundingClientRect();
        if ((r.width || r.height) && r.right > width + 0.5) out.push(`${el.tagName.toLowerCase()}.${el.className} right ${Math.round(r.right)} > ${width}`);
    }
    return out;
}"""


@pytest.mark.parametrize("width", (390, 1400))
def test_no_docs_page_overflows(browser, docs_site: Path, width: int) -> None:
    """Every docs page (not the zoo's, which test_site_browser covers) at phone and desktop
    width: nothing sticks out horizontally; a screenshot of each page type goes to artifacts/."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)  # a shared CI machine can be slow to paint
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"failed to load {r.url}"))
    ARTIFACTS.mkdir(exist_ok=True)
    shots = {"index.html", "tutorials/roofline.html", "math/roofline.html", "api/solvers.html", "glossary.html"}
    problems = []
    for html in docs_pages(docs_site):
        rel = html.relative_to(docs_site).as_posix()
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        found = page.evaluate(OVERFLOW)
        if found:
            problems.append(f"{rel} at {width}px: {found[:5]}")
        if rel in shots:
            name = rel.removesuffix(".html").replace("/", "-")
            page.screenshot(path=str(ARTIFACTS / f"docs-{name}-{width}.png"))
    context.close()
    assert not problems, "\n".join(problems)
    assert not errors, errors


def test_search_finds_a_tutorial(browser, docs_site: Path) -> None:
    """The search page works offline from file:// (Sphinx's own index, no server)."""
    page = browser.new_page()
    page.goto((docs_site / "search.html").as_uri() + "?q=ridge")
    page.wait_for_selector("ul.search li", timeout=20000)
    assert "roofline" in page.inner_text("ul.search").lower()
    page.close()
