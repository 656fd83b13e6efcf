"""The zoo's validation page (issue: physics you can trust, item 7): the same data as
`mlsysim validate`, every measurement with its measured and predicted figure and signed
error, the reason for each row that is not expressible, and the summary by category."""

from __future__ import annotations

import html
import re

import pytest
from site_helpers import build_bundled_site

from mlsysim.catalog import load_catalog
from mlsysim.evaluate.validation import validate


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_bundled_site(tmp_path_factory, "validation")


@pytest.fixture(scope="module")
def report():
    return validate(load_catalog())


def _row(page: str, row_id: str) -> str:
    match = re.search(rf'<tr id="row-{re.escape(row_id)}">(.*?)</tr>', page, re.S)
    assert match, row_id
    return html.unescape(match.group(1))


def test_every_measurement_has_its_row_with_the_validator_figures(site, report):
    page = (site / "validation.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<tr id="row-', page)) == len(report.results)
    for result in report.results:
        row = _row(page, result.id)
        assert f'href="measurements/{result.id}.html"' in row
        if result.error is None:
            assert "not expressible" in row and result.reason in row
        else:
            assert f"{result.error:+.1%}" in row


def test_the_summary_is_the_validator_summary(site, report):
    page = html.unescape((site / "validation.html").read_text(encoding="utf-8"))
    overall = report.summary()["overall"]
    summary = re.search(r"<th scope=\"row\">overall</th>(.*?)</tr>", page, re.S).group(1)
    assert f"{overall['median_abs_error']:.1%}" in summary
    assert f">{overall['count']}<" in summary and f">{overall['expressed']}<" in summary
    assert f"{overall['worst']['error']:+.1%}" in summary and f'href="#row-{overall["worst"]["id"]}"' in summary


def test_every_page_links_the_validation_page(site):
    for rel in ("index.html", "hardware/index.html", "measurements/index.html"):
        assert 'href="../validation.html"' in (site / rel).read_text(encoding="utf-8") or \
               'href="validation.html"' in (site / rel).read_text(encoding="utf-8"), rel
