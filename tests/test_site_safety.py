"""mlsysim/site/safety.py and the site's escaping: hostile record text never becomes markup,
and only http(s) URLs become links."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlsysim.site.safety import http_url
from site_helpers import HOSTILE, TODAY, Elements, hostile_catalog

BAD_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "/etc/passwd",
    "https://",
    "https:///path",
    "http://exa mple.org/",
    "https://example.org/\x00",
    "",
    None,
    42,
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_only_absolute_http_urls_are_links(url):
    assert http_url(url) is None


@pytest.mark.parametrize("url", ["https://example.org", "http://example.org/a?b=c#d", "HTTPS://EXAMPLE.ORG/x",
                                 "https://arxiv.org/abs/2005.14165v4", 'https://x.invalid/"><b>'])
def test_http_urls_pass_unchanged(url):
    assert http_url(url) == url  # quotes and brackets are left to the template's attribute escaping


@given(st.text())
def test_anything_accepted_is_http_without_whitespace_or_control_characters(text):
    url = http_url(text)
    if url is not None:
        assert re.match(r"(?i)https?://[^/?#\\]", url)
        assert not re.search(r"[\x00-\x20\x7f]", url)


def _assert_inert(site: Path) -> None:
    """No page of the site can run anything but its own script, or link anywhere but http(s) and itself."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text()
        assert "<script>alert" not in html and "<img src=x" not in html and "<svg/" not in html, page
        for tag, attrs in Elements(html).tags:
            assert not [a for a in attrs if a.lower().startswith("on")], (page, tag, attrs)
            if tag == "script":  # the site's script, and the compare page's generated data (a JSON object)
                assert attrs.get("src", "").endswith(("static/zoo.js", "compare-data.js")), (page, attrs)
            if tag == "img":
                assert attrs["src"].endswith(".svg") and not attrs["src"].startswith(("http", "//")), (page, attrs)
            for name in ("href", "src", "action", "formaction"):
                value = (attrs.get(name) or "").strip().lower()
                assert not value.startswith(("javascript:", "data:", "vbscript:")), (page, tag, attrs)
                if re.match(r"[a-z][a-z0-9+.-]*:", value):
                    assert value.startswith(("http://", "https://")), (page, tag, attrs)
    assert re.search(r"<script\b", (site / "static" / "zoo.js").read_text()) is None
    assert "innerHTML" not in (site / "static" / "zoo.js").read_text()  # catalog text is never parsed as HTML
    comment, assignment = (site / "compare-data.js").read_text().splitlines()
    assert comment.startswith("//") and assignment.startswith("window.MLSYSIM_COMPARE = {") and assignment.endswith("};")
    json.loads(assignment[len("window.MLSYSIM_COMPARE = "):-1])  # data only: one JSON object, nothing to run


def test_hostile_record_text_is_escaped_everywhere(catalog_copy, tmp_path):
    from mlsysim.site.build import build_site

    root = hostile_catalog(catalog_copy())
    site = tmp_path / "site"
    build_site(site, root, today=TODAY)
    _assert_inert(site)
    record = (site / "hardware" / "fx100.html").read_text()
    escaped = "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;&#39; onmouseover=&#39;alert(2)"
    assert record.count(escaped) >= 6  # name, description, vendor, locator, as-stated, qualifier, note, source title
    assert f"<title>{escaped} (Accelerators) · mlsysim zoo</title>" in record
    # A URL with quotes stays one attribute value: the quote is escaped, not closing it.
    assert 'href="https://fixture.invalid/&#34;&gt;&lt;svg/onload=alert(1)&gt;"' in (site / "models" / "fixture_lm.html").read_text()
    fresh = (site / "freshness.html").read_text()
    assert "javascript:alert(3)" in fresh and 'href="javascript' not in fresh  # shown as text, never a link


def test_javascript_source_urls_are_never_links(catalog_copy, tmp_path):
    """The schema only admits http(s) source URLs; the site does not rely on that."""
    from mlsysim.catalog import Catalog, scan
    from mlsysim.site.build import build_site

    root = catalog_copy()
    snapshot = copy.deepcopy(scan(root))
    source = snapshot["sources"]["fixture-datasheet"]
    source.update(url="javascript:alert(document.cookie)", archive_url="JaVaScRiPt:alert(2)",
                  document_url="data:text/html,<script>alert(3)</script>")
    snapshot["sources"]["fixture-model-card"]["url"] = "java\tscript:alert(4)"
    site = tmp_path / "site"
    build_site(site, Catalog(snapshot, root), today=TODAY)
    _assert_inert(site)
    record = (site / "hardware" / "fx100.html").read_text()
    assert '<span class="source-link">Fixture Accelerator Datasheet</span>' in record
    assert "archived copy" not in record
    sources = (site / "sources.html").read_text()
    assert "URL not linked: <code>javascript:alert(document.cookie)</code>" in sources
