"""mlsysim/catalog/registry.py and records.py: the names the field types, values as SI
floats and Quantities, lookups that suggest the closest names."""

from __future__ import annotations

import pytest

import mlsysim
from mlsysim.catalog import load_catalog
from mlsysim.errors import NotFoundError
from mlsysim.catalog.registry import Registry


@pytest.fixture
def fixture_registry(fixture_catalog):
    catalog = load_catalog(fixture_catalog)
    return lambda kind: Registry(kind, catalog=lambda: catalog)


def test_values_are_si_floats_and_quantities(fixture_registry):
    fx = fixture_registry("hardware").Cloud.FX100
    bw = fx.memory.bandwidth
    assert bw.si == 4e12  # bytes per second
    assert bw.value == 4 and bw.unit == "TB/s"
    assert bw.quantity.to("GB/s").magnitude == pytest.approx(4000)
    assert bw.source["title"] == "Fixture Accelerator Datasheet"
    assert bw.path == "hardware/fx100#memory.bandwidth"
    assert float(fx.compute.fp16) == 1e15


def test_lookup_is_case_insensitive_by_id_alias_or_name(fixture_registry):
    hardware = fixture_registry("hardware")
    assert hardware.get("fx100") is hardware.get("FX100") is hardware.get("Fixture FX100 80GB")
    assert hardware.Cloud.fx100.id == "fx100"


def test_unknown_name_lists_closest(fixture_registry):
    with pytest.raises(NotFoundError, match=r"no hardware record named 'FX1000'; closest: FX100"):
        fixture_registry("hardware").get("FX1000")
    with pytest.raises(AttributeError, match="closest: FX100"):
        fixture_registry("hardware").Cloud.FX10


def test_wrong_group_is_an_error():
    with pytest.raises(NotFoundError, match="H100 is hardware/cloud, not edge"):
        mlsysim.Hardware.Edge.get("H100")


def test_references_resolve_to_records(fixture_registry):
    cluster = fixture_registry("clusters").Fixture_64
    assert cluster.node.accelerator.id == "fx100"
    assert cluster.datacenter.grid.carbon_intensity.qualifiers["basis"] == "lifecycle"
    assert cluster.ref_id("fabric") == "fixture_fabric"


def test_plain_fields_and_sections(fixture_registry):
    lm = fixture_registry("models").Language.FixtureLM
    assert lm.transformer.mlp == "gated"
    assert lm.transformer.tied_embeddings is True
    assert lm.transformer.kv_heads.si == 8
    assert "kv_heads" in lm.transformer
    with pytest.raises(AttributeError, match="has no field 'transformer.nope'"):
        lm.transformer.nope


def test_provenance_map_lists_every_constant(fixture_catalog):
    provmap = load_catalog(fixture_catalog).provenance
    entry = provmap["hardware/fx100#memory.capacity"]
    assert (entry.value, entry.unit, entry.si_value, entry.si_unit) == (80, "GB", 80e9, "byte")
    assert entry.claim["as_stated"] == "80GB"
    assert entry.source["publisher"] == "Fixture Corp"
    assert len(provmap) == 30
    assert [e.field for e in provmap.for_record("systems/none")] == []
    assert {e.path for e in provmap.cited_by("fixture-grid-data")} >= {"grids/fixture_grid#carbon_intensity"}


def test_seed_names_resolve_on_the_real_catalog():
    """The starter records of the foundation issue, by the names the field types."""
    assert mlsysim.Hardware.Cloud.H100.id == "h100_sxm"
    assert mlsysim.Hardware.Cloud.A100.id == "a100_sxm_80gb"
    assert mlsysim.Models.Language.Llama3_8B.id == "llama3_8b"
    assert mlsysim.Models.Vision.ResNet50.id == "resnet50"
    assert mlsysim.Infra.Grids.US_Avg.id == "us_avg"
    assert mlsysim.Systems.Nodes.DGX_H100.accelerator is mlsysim.Hardware.Cloud.H100
    assert mlsysim.Systems.Fabrics.InfiniBand_NDR.id == "infiniband_ndr"
    assert mlsysim.Systems.Clusters.Research_256.node.id == "dgx_h100"
    assert mlsysim.Hardware.get("h100") is mlsysim.Hardware.Cloud.H100


def test_h100_memory_is_decimal_gigabytes():
    """NVIDIA H100 datasheet: "80GB" HBM3 and 3.35TB/s on the SXM5 board (decimal units)."""
    h100 = mlsysim.Hardware.Cloud.H100
    assert h100.memory.capacity.si == pytest.approx(80e9)
    assert h100.memory.bandwidth.si == pytest.approx(3.35e12)


def test_real_catalog_loads_with_zero_problems():
    from mlsysim.catalog import check

    _, problems = check()
    assert problems == []


def test_registry_follows_the_catalog_setting(fixture_catalog, monkeypatch):
    """Registry lookups are memoised per catalog, so switching $MLSYSIM_CATALOG switches them."""
    assert mlsysim.Hardware.Cloud.H100.id == "h100_sxm"
    monkeypatch.setenv("MLSYSIM_CATALOG", str(fixture_catalog.resolve()))
    assert mlsysim.Hardware.Cloud.FX100.id == "fx100"
    with pytest.raises(AttributeError, match="no hardware record named 'H100'"):
        _ = mlsysim.Hardware.Cloud.H100
    monkeypatch.delenv("MLSYSIM_CATALOG")
    assert mlsysim.Hardware.Cloud.H100.id == "h100_sxm"
