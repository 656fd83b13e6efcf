"""Helpers for the site tests: build a site, read its HTML without a browser."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

TODAY = dt.date(2026, 11, 21)
BADGE = re.compile(r'<span class="badge badge-([a-z]+)" title="([^"]*)">')


def badges(html: str) -> list[str]:
    """Badge words on a page, in order."""
    return [word for word, _ in BADGE.findall(html)]


def claim_rows(html: str) -> dict[str, str]:
    """Record page: field path -> the HTML of its row in the cited-values table."""
    rows = {}
    for match in re.finditer(r'<tr id="v-([^"]+)">(.*?)</tr>', html, re.S):
        rows[match.group(1)] = match.group(2)
    return rows


def write_verification(root: Path, claims: dict[str, dict[str, Any]], run: dict[str, Any] | None = None) -> None:
    """A verification.json as the freshness checker writes it (CheckState.to_json per claim)."""
    from provenance.verification import CheckState

    data = {
        "run": run or {},
        "claims": {path: CheckState.from_json(state).to_json() for path, state in sorted(claims.items())},
    }
    (root / "verification.json").write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


class Elements(HTMLParser):
    """Every start tag of a page as (tag, attributes), to check what the HTML can do."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


SCRIPT = '<script>alert("pwned")</script>'
BREAKOUT = '"><img src=x onerror=alert(1)>'
SINGLE = "' onmouseover='alert(2)"
HOSTILE = f"{SCRIPT}{BREAKOUT}{SINGLE}"
QUOTED_URL = 'https://fixture.invalid/"><svg/onload=alert(1)>'  # an http URL that tries to close its attribute


def hostile_catalog(root: Path) -> Path:
    """The fixture catalog with hostile text in every kind of string a record or source holds."""
    hw = root / "hardware" / "cloud" / "fx100.yaml"
    text = hw.read_text()
    text = text.replace("name: Fixture FX100 80GB", f"name: {_yaml(HOSTILE)}")
    text = text.replace("vendor: Fixture Corp", f"vendor: {_yaml(HOSTILE)}")
    text = text.replace("aliases: [FX100]", f"aliases: [FX100, {_yaml(SCRIPT)}]\ndescription: {_yaml(HOSTILE)}")
    text = text.replace('locator: "spec table, FP16", qualifiers: {sparsity: dense}',
                        f"locator: {_yaml(HOSTILE)}, as_stated: {_yaml(HOSTILE)}, qualifiers: {{sparsity: dense, scope: {_yaml(HOSTILE)}}}")
    text = text.replace('note: "fixture estimate"', f"note: {_yaml(HOSTILE)}")
    hw.write_text(text)
    sources = root / "sources.yaml"
    sources.write_text(
        sources.read_text()
        .replace("title: Fixture Accelerator Datasheet", f"title: {_yaml(HOSTILE)}")
        .replace("publisher: Fixture Corp", f"publisher: {_yaml(HOSTILE)}")
        .replace("url: https://fixture.invalid/model-card", f"url: {_yaml(QUOTED_URL)}")
    )
    write_verification(root, {
        "hardware/fx100#memory.bandwidth": {
            "result": "changed", "last_checked": "2026-11-20", "observed": HOSTILE,
            "evidence": {"url": "javascript:alert(3)", "snippet": HOSTILE, HOSTILE: "key"},
        },
    }, run={"note": HOSTILE})
    return root


def _yaml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- the browser the browser tests drive ---------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def unavailable(reason: str) -> None:
    """Skip a browser test whose browser is missing; in CI (which installs it) fail instead."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it, so CI must have it")
    pytest.skip(reason)


def chromium_browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright, for a module-scoped fixture to `yield from`;
    skips (in CI: fails) with the reason when chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        unavailable(f"no chromium at {CHROMIUM} (install Debian's: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install '.[test]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def build_bundled_site(tmp_path_factory: Any, name: str) -> Path:
    """The zoo site of the bundled catalog, built into a fresh temporary folder `name`
    (with its own cache, whatever MLSYSIM_CATALOG the shell has set)."""
    import pytest

    from mlsysim.site.build import build_site

    out = tmp_path_factory.mktemp(name) / "site"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSYSIM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        mp.delenv("MLSYSIM_CATALOG", raising=False)
        build_site(out, today=TODAY)
    return out
