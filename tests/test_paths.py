"""mlsysim/catalog/paths.py: commands find the catalog the way git finds `.git`."""

from __future__ import annotations

import pytest

from mlsysim.catalog.paths import bundled_catalog, locate_catalog
from mlsysim.errors import CatalogError


@pytest.fixture
def repo(tmp_path, catalog_copy):
    """A checkout-like folder: repo/catalog/ holding a catalog, and repo/docs/ beside it."""
    root = tmp_path / "repo"
    root.mkdir()
    catalog_copy().rename(root / "catalog")
    (root / "docs").mkdir()
    return root


def test_the_nearest_catalog_to_the_working_directory(repo, monkeypatch):
    for where in (repo, repo / "docs", repo / "catalog", repo / "catalog" / "hardware" / "cloud"):
        monkeypatch.chdir(where)
        found = locate_catalog()
        assert (found.path, found.how) == (repo / "catalog", "working directory"), where
        assert str(found).endswith("(the nearest catalog to the working directory)")


def test_explicit_then_environment_then_nearest_then_bundled(repo, tmp_path, monkeypatch, fixture_catalog):
    monkeypatch.chdir(repo)
    monkeypatch.setenv("MLSYSIM_CATALOG", str(fixture_catalog))
    assert locate_catalog().how == "MLSYSIM_CATALOG"
    assert locate_catalog(repo / "catalog").how == "--catalog"
    monkeypatch.delenv("MLSYSIM_CATALOG")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert (locate_catalog().path, locate_catalog().how) == (bundled_catalog(), "bundled")


def test_an_empty_catalog_path_is_refused():
    with pytest.raises(CatalogError, match="an empty catalog path"):
        locate_catalog("")


def test_a_maintainer_sees_the_error_in_the_catalog_they_stand_in(repo, monkeypatch, cli):
    """The Quick start installs mlsysim non-editable; an edit to ./catalog must still be
    what `mlsysim catalog validate` and every other command read."""
    broken = repo / "catalog" / "hardware" / "cloud" / "fx100.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("vendor:", "vendr:"), encoding="utf-8")
    monkeypatch.chdir(repo / "docs")
    result = cli("catalog", "validate")
    assert result.code == 1 and "hardware/cloud/fx100.yaml" in result.out and "vendr" in result.out
    result = cli("show", "fx100")
    assert result.code == 1
    assert result.err.startswith(f"catalog: {repo / 'catalog'} (the nearest catalog to the working directory)")
