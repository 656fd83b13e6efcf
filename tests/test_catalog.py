"""mlsysim/catalog/core.py: lookups on a loaded catalog."""

from __future__ import annotations

from mlsysim.catalog import load_catalog


def test_referencing_finds_the_records_that_name_a_record(fixture_catalog) -> None:
    """The fixture node is built from FX100; nothing is built from a model."""
    catalog = load_catalog(fixture_catalog)
    assert [n.id for n in catalog.referencing("nodes", "accelerator", "fx100")] == ["fixture_node"]
    assert catalog.referencing("nodes", "accelerator", "fixture_lm") == []
    assert catalog.referencing("nodes", "no_such_field", "fx100") == []


def test_referencing_in_the_bundled_catalog() -> None:
    from mlsysim.catalog import default_catalog

    assert [n.label for n in default_catalog().referencing("nodes", "accelerator", "h100_sxm")] == [
        "DGX_H100", "GrandTeton_H100", "HGX_H100_EPYC", "Kempner_H100_4GPU", "ND96isr_H100_v5"]
