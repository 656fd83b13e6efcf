"""The real catalog (catalog/): every name the field already types resolves
through the registries, the catalog validates, and `mlsysim zoo` lists every kind.

The seed names are the ones the zoo issue lists (issue 3, "Coverage"); they are
what users of the earlier MLSys-im registries type, so a rename breaks them.
"""

from __future__ import annotations

import pytest

import mlsysim
from mlsysim.catalog import load_catalog

from tests.conftest import REAL_CATALOG

SEED_HARDWARE = {
    "Cloud": ["H100", "H200", "B200", "GB200_NVL72", "A100", "V100", "T4", "MI300X", "TPUv5p", "Cerebras_CS3",
              "H100_PCIe", "L4", "MI325X", "TPUv4", "TPUv5e", "Gaudi3"],
    "Workstation": ["DGX_Spark", "MacBookM3Max"],
    "Mobile": ["iPhone15Pro", "Pixel8", "Snapdragon8Gen3"],
    "Edge": ["JetsonOrinNX", "Coral", "NUC_Movidius"],
    "Tiny": ["ESP32_S3", "HimaxWE1"],
}
SEED_MODELS = {
    "Language": ["GPT2", "GPT3", "GPT4", "BERT_Base", "BERT_Large", "Llama2_70B", "Llama3_8B", "Llama3_70B",
                 "Llama2_7B", "Llama3_1_405B", "Mixtral_8x7B", "DeepSeek_V3"],
    "Vision": ["ResNet50", "MobileNetV2", "YOLOv8_Nano", "AlexNet"],
    "Tiny": ["DS_CNN", "WakeVision", "AnomalyDetector"],
    "StateSpace": ["Mamba_130M", "Mamba_2_8B"],
    "GenerativeVision": ["StableDiffusion_v1_5"],
}
SEED_GRIDS = ["Quebec", "Norway", "US_Avg", "Poland", "France", "Sweden", "Germany", "California", "Texas", "ERCOT",
              "India", "China", "Iceland", "GreatBritain"]
SEED_INFRA = {"Racks": ["Traditional", "AI_Standard"], "Datacenters": ["Hyperscale", "Enterprise_Avg"]}
SEED_SYSTEMS = {
    "Nodes": ["DGX_H100", "DGX_A100", "DGX_B200"],
    "Fabrics": ["Ethernet_10G", "Ethernet_100G", "InfiniBand_HDR", "InfiniBand_NDR"],
    "Clusters": ["Research_256", "Frontier_8K", "Production_2K", "Mega_100K"],
}


def _params(seed: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(group, name) for group, names in seed.items() for name in names]


@pytest.mark.parametrize(("group", "name"), _params(SEED_HARDWARE))
def test_seed_hardware_resolves_in_its_tier(group, name):
    record = getattr(getattr(mlsysim.Hardware, group), name)
    assert record.kind == "hardware"
    assert record.tier == group.lower()


@pytest.mark.parametrize(("group", "name"), _params(SEED_MODELS))
def test_seed_models_resolve_in_their_family(group, name):
    record = getattr(getattr(mlsysim.Models, group), name)
    assert record.kind == "models"
    assert record.parameters.si > 0


@pytest.mark.parametrize("name", SEED_GRIDS)
def test_seed_grids_resolve(name):
    grid = getattr(mlsysim.Infra.Grids, name)
    assert any(grid.has(f"carbon_intensity_{basis}") for basis in ("lifecycle", "direct"))


def test_grids_resolve_by_the_names_people_write():
    grids = mlsysim.Infra.Grids
    assert grids.get("Great Britain") is grids.GreatBritain
    assert grids.get("texas_ercot") is grids.ERCOT is grids.Texas


@pytest.mark.parametrize(("registry", "name"), _params(SEED_INFRA))
def test_seed_infra_resolves(registry, name):
    assert getattr(getattr(mlsysim.Infra, registry), name).kind in ("racks", "datacenters")


@pytest.mark.parametrize(("registry", "name"), _params(SEED_SYSTEMS))
def test_seed_systems_resolve_and_their_references_load(registry, name):
    record = getattr(getattr(mlsysim.Systems, registry), name)
    if registry == "Nodes":
        assert record.accelerator.kind == "hardware"
    if registry == "Clusters":
        assert record.node.accelerator.kind == "hardware"
        assert record.fabric.kind == "fabrics"
        assert record.node_count >= 1


def test_every_alias_names_one_record_only():
    """Two records sharing an alias would make lookups depend on load order."""
    catalog = load_catalog(REAL_CATALOG)
    for kind in catalog.kinds():
        seen: dict[str, str] = {}
        for record in catalog.records(kind):
            for alias in {a.lower() for a in record.aliases} | {record.id}:
                assert seen.setdefault(alias, record.id) == record.id, f"{kind}: {alias!r} names {seen[alias]} and {record.id}"


def test_first_alias_is_a_python_identifier():
    """The first alias is the registry attribute (`Hardware.Cloud.H100`)."""
    for record in load_catalog(REAL_CATALOG).records():
        assert record.aliases, f"{record.ref} has no aliases"
        assert record.aliases[0].isidentifier(), f"{record.ref}: first alias {record.aliases[0]!r}"


def test_real_catalog_validates(cli):
    result = cli("catalog", "validate", "--catalog", str(REAL_CATALOG))
    assert result.code == 0, result.err
    assert "valid" in result.out


@pytest.mark.parametrize("kind", ["hardware", "models", "grids", "infra", "systems", "assumptions"])
def test_zoo_lists_every_record_of_each_kind(cli, kind):
    kinds = {"infra": ("datacenters", "racks"), "systems": ("nodes", "fabrics", "clusters")}.get(kind, (kind,))
    result = cli("zoo", kind, "--catalog", str(REAL_CATALOG))
    assert result.code == 0, result.err
    flat = " ".join(result.out.split())
    for record in (r for k in kinds for r in load_catalog(REAL_CATALOG).records(k)):
        assert record.label[:12] in flat, f"{record.ref} missing from `mlsysim zoo {kind}`"
