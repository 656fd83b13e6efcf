"""scripts/catalog_report.py: counts of records, values per method, source type
and authority, and the list of estimated values."""

from __future__ import annotations

import json

import pytest

from mlsysim.catalog import load_catalog
from tests.conftest import FIXTURE_CATALOG, REAL_CATALOG, load_script


@pytest.fixture(scope="module")
def report():
    return load_script("catalog_report")


def test_text_report_on_the_fixture_catalog(report, capsys):
    assert report.main(["--catalog", str(FIXTURE_CATALOG)]) == 0
    out = capsys.readouterr().out
    assert "Records per kind (total 10)" in out
    assert "  models           2" in out
    assert "Values per method (total 30)" in out
    assert "  estimated      1" in out
    assert "Values per source authority (total 30)\n  primary     30" in out
    assert "Sources: 3 listed, 3 cited by at least one value" in out
    assert "Estimated values (1)\n  hardware/fx100#unit_cost = 25000 USD [fixture-datasheet]\n      fixture estimate" in out


def test_json_report_on_the_real_catalog_agrees_with_the_catalog(report, capsys):
    assert report.main(["--catalog", str(REAL_CATALOG), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    catalog = load_catalog(REAL_CATALOG)
    values = [v for r in catalog.records() for v in r.values()]
    assert sum(summary["records"].values()) == len(catalog.records())
    assert summary["values"] == len(values) == sum(summary["values_by_method"].values())
    assert sum(summary["values_by_authority"].values()) == len(values)
    assert [e["path"] for e in summary["estimated"]] == sorted(v.path for v in values if v.method == "estimated")
    assert all(e["note"] for e in summary["estimated"])
    assert summary["sources_cited"] + len(summary["sources_uncited"]) == summary["sources"]


def test_a_broken_catalog_is_an_error_not_a_traceback(report, capsys, tmp_path):
    assert report.main(["--catalog", str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().err.startswith("Error: 1 problem in the catalog:")
