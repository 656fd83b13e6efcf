"""mlsysim/catalog/snapshot.py and the catalog's identity: a catalog is versioned like a
CODATA edition (content fingerprint + date), can be pinned to one file, and one result's
inputs never mix two catalogs."""

from __future__ import annotations

import json

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.catalog.core import snapshot
from mlsysim.errors import CatalogError
from mlsysim.errors import MixedCatalogsError
from mlsysim.lineage import Lineage


def test_identity_is_a_function_of_the_content(fixture_catalog, catalog_copy):
    a, b = load_catalog(fixture_catalog), load_catalog(catalog_copy())
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 32
    assert a.date == b.date == max(str(s["retrieved"]) for s in a.sources.values() if s.get("retrieved"))
    assert a.identity == {"fingerprint": a.fingerprint, "date": a.date, "root": str(a.root)}


def test_an_edit_changes_the_fingerprint(catalog_copy):
    root = catalog_copy()
    before = load_catalog(root).fingerprint
    path = root / "hardware/cloud/fx100.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n# a comment is content too\n", encoding="utf-8")
    assert load_catalog(root).fingerprint != before


def test_snapshot_round_trip_reproduces_the_catalog(fixture_catalog, tmp_path):
    cat = load_catalog(fixture_catalog)
    pinned = load_catalog(snapshot(cat, tmp_path / "pinned.json"))
    assert (pinned.fingerprint, pinned.date) == (cat.fingerprint, cat.date)
    assert [r.ref for r in pinned.records()] == [r.ref for r in cat.records()]
    for rec in cat.records():
        other = pinned.get(rec.kind, rec.id)
        assert [(v.path, v.si, v.source_id, v.locator) for v in rec.values()] == \
               [(v.path, v.si, v.source_id, v.locator) for v in other.values()]


def test_cli_writes_and_reads_a_snapshot(cli, fixture_catalog, tmp_path):
    out = tmp_path / "snap.json"
    result = cli("catalog", "snapshot", "-o", str(out), "--catalog", str(fixture_catalog))
    assert result.code == 0, result.err
    assert load_catalog(fixture_catalog).fingerprint in result.out
    result = cli("catalog", "validate", "--catalog", str(out))
    assert result.code == 0 and "valid" in result.out


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not a readable catalog snapshot"),
    (json.dumps({"records": []}), "not a catalog snapshot"),
    (json.dumps({"format": "mlsysim-catalog-snapshot", "version": 99}), "snapshot version 99"),
    (json.dumps({"format": "mlsysim-catalog-snapshot", "version": 1}), "snapshot lacks fingerprint"),
])
def test_a_bad_snapshot_is_a_located_error(tmp_path, cli, content, problem):
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError, match=problem):
        load_catalog(bad)
    result = cli("zoo", "hardware", "--catalog", str(bad))
    assert result.code == 1 and problem in result.err and "Traceback" not in result.err


def test_a_directory_without_sources_is_not_scanned(tmp_path, cli):
    (tmp_path / "notes.txt").write_text("not a catalog", encoding="utf-8")
    result = cli("zoo", "hardware", "--catalog", str(tmp_path))
    assert result.code == 1 and "not a catalog directory" in result.err


def test_one_result_never_mixes_two_catalogs(fixture_catalog, catalog_copy):
    a, b = load_catalog(fixture_catalog), load_catalog(catalog_copy())
    lineage = Lineage()
    lineage.use(a.get("hardware", "fx100").memory.bandwidth)
    assert lineage.catalog == a.identity
    with pytest.raises(MixedCatalogsError, match="comes from the catalog"):
        lineage.use(b.get("hardware", "fx100").memory.bandwidth)
    other = Lineage()
    other.use(b.get("hardware", "fx100").memory.bandwidth)
    with pytest.raises(MixedCatalogsError):
        lineage.merge(other)


def test_written_files_have_normal_permissions(fixture_catalog, tmp_path):
    """Output files were created 0600 (mkstemp's mode); a new file gets 0666 less the umask."""
    import os

    current = os.umask(0o022)
    try:
        path = snapshot(load_catalog(fixture_catalog), tmp_path / "pinned.json")
    finally:
        os.umask(current)
    assert path.stat().st_mode & 0o777 == 0o644


def test_every_json_result_states_its_catalog(cli):
    """Results are reproducible across catalog updates only if they say which catalog
    (fingerprint and date) produced them: here, the pinned test snapshot."""
    import json

    from tests.golden_calls import FROZEN_CATALOG

    frozen = load_catalog(FROZEN_CATALOG)
    fingerprint = frozen.fingerprint
    for args in (("eval", "Llama3_8B", "H100"), ("eval", "ResNet50", "A100"), ("eval", "scenario", "SmartDoorbell")):
        out = cli(*args, "-o", "json", "--catalog", str(FROZEN_CATALOG))
        assert out.code == 0, out.err
        assert json.loads(out.out)["catalog"]["fingerprint"] == fingerprint
