"""Hardware values cite the vendor's own documents first (issue 13, item 2): a secondary
source is kept only where no document of the vendor's own is cited for the figure, its
note says so, and the primary share of hardware values does not fall back.

The vendor documents cited here include NVIDIA's AIConfigurator system files
(ai-dynamo/aiconfigurator), NVIDIA's MLPerf system descriptions, Google Cloud TPU and AWS
Neuron documentation, AMD's ROCm documentation and lab notes, and Espressif's devicetree.
"""

from __future__ import annotations

import pytest

from mlsysim.catalog import load_catalog
from tests.conftest import REAL_CATALOG

_catalog = load_catalog(REAL_CATALOG)
HARDWARE = _catalog.records("hardware")

# The share of hardware values citing a primary source (scripts/catalog_report.py prints it).
# A floor, raised as values move to vendor documents; the target is 0.70.
PRIMARY_SHARE_FLOOR = 0.44


def _authority(value) -> str:
    return str(_catalog.sources.get(value.source_id, {}).get("authority", "primary"))


def _kinds_citing(source_id: str) -> set[str]:
    return {r.kind for r in _catalog.records() for v in r.values() if v.source_id == source_id}


def test_primary_share_of_hardware_values_does_not_fall():
    values = [v for r in HARDWARE for v in r.values()]
    primary = sum(_authority(v) == "primary" for v in values)
    assert primary / len(values) >= PRIMARY_SHARE_FLOOR, f"{primary}/{len(values)} hardware values cite a primary source"


def _secondary_hardware_sources():
    ids = sorted({v.source_id for r in HARDWARE for v in r.values() if _authority(v) != "primary"})
    return [sid for sid in ids if _kinds_citing(sid) == {"hardware"}]


@pytest.mark.parametrize("source_id", _secondary_hardware_sources())
def test_secondary_hardware_source_says_it_stands_in_for_the_vendor(source_id):
    """Each secondary source cited only by hardware records says, in its note, that no
    document of the vendor's own is cited for its figures (and names the vendor)."""
    note = " ".join(str(_catalog.sources[source_id].get("note") or "").split())
    vendors = {r.get("vendor") for r in HARDWARE for v in r.values() if v.source_id == source_id}
    assert "Secondary: no document of" in note, f"{source_id}: say in its note that it stands in for the vendor's own document"
    for vendor in vendors:
        assert vendor in note, f"{source_id}: its note should name {vendor}"


@pytest.mark.parametrize(("record_id", "path", "source_id"), [
    # NVIDIA's MLPerf Inference v4.1 system description (Orin_TRT.json):
    # "host_memory_configuration": "64GB 256-bit LPDDR5".
    ("jetson_agx_orin_64gb", "memory.capacity", "mlcommons-inference-v41-nvidia-orin"),
    # AMD lab notes, MI200 memory space: "two GCDs with 128 GB of total memory".
    ("mi250x", "memory.capacity", "amd-lab-notes-mi200-memory-space"),
    # NVIDIA AIConfigurator gb10.yaml: "128538451968 # 119.7 GiB usable to CUDA".
    ("dgx_spark", "memory.capacity_usable", "nvidia-aiconfigurator-gb10"),
])
def test_recited_values_cite_the_vendor(record_id, path, source_id):
    value = _catalog.get("hardware", record_id).field(path)
    assert value.source_id == source_id
    assert _authority(value) == "primary"


def test_recited_values_keep_their_figures():
    """Re-citing changes the source, not the number: Jetson AGX Orin 64 GB, MI250X 128 GB,
    DGX Spark 119.7 GiB usable (NVIDIA AIConfigurator gb10.yaml)."""
    assert _catalog.get("hardware", "jetson_agx_orin_64gb").si("memory.capacity") == pytest.approx(64e9)
    assert _catalog.get("hardware", "mi250x").si("memory.capacity") == pytest.approx(128e9)
    usable = _catalog.get("hardware", "dgx_spark").si("memory.capacity_usable")
    assert usable == pytest.approx(119.7 * 2**30, rel=1e-3)
