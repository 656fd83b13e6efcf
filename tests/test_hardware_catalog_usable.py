"""Usable memory capacity: the catalog records what the device reports software can
allocate next to the vendor's marketed figure, and the solvers check fits against the
usable one when a record states it, and say which one they used.

NVIDIA's MIG User Guide (r580) shows nvidia-smi reporting 81559 MiB (85.5 GB) for an
"H100 80GB HBM3"; NVIDIA's AIConfigurator system files give 189471 MiB (GB200), 275040 MiB
(B300) and 284208 MiB (GB300) "reported by nvidia-smi". A fit checked against the marketed
"80GB" is about 7% conservative (issue 13, item 4).
"""

from __future__ import annotations

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.solvers.terms import capacity_note, memory_capacity
from tests.conftest import FROZEN_CATALOG, REAL_CATALOG

MIB = 2**20


@pytest.fixture(scope="module")
def frozen():
    return load_catalog(FROZEN_CATALOG)


@pytest.fixture(scope="module")
def live():
    return load_catalog(REAL_CATALOG)


@pytest.mark.parametrize(("record_id", "mib"), [
    # NVIDIA MIG User Guide r580, 'MIG with CUDA MPS' example: "87MiB /  81559MiB".
    ("h100_sxm", 81559),
    # NVIDIA AIConfigurator systems/gb200.yaml: "mem_capacity: 198674743296 # 189471MiB reported by nvidia-smi".
    ("gb200_nvl72", 189471),
    # NVIDIA AIConfigurator systems/b300_sxm.yaml: "mem_capacity: 288400343040 # 275040MiB reported by nvidia-smi".
    ("b300", 275040),
    # NVIDIA AIConfigurator systems/gb300.yaml: "mem_capacity: 298013687808 # 284208MiB reported by nvidia-smi".
    ("gb300_nvl72", 284208),
])
def test_usable_capacity_as_nvidia_smi_reports_it(live, record_id, mib):
    """The usable figure is stored as the source states it (MiB), read by nvidia-smi."""
    value = live.get("hardware", record_id).memory.capacity_usable
    assert value.to("MiB").magnitude == pytest.approx(mib, rel=1e-9)
    assert value.si == pytest.approx(mib * MIB, rel=1e-9)
    assert value.qualifiers["reported_by"] == "nvidia-smi"
    assert value.method == "measured"


def test_gb200_and_gb300_usable_exceeds_the_marketed_figure_as_nvidia_states_it(live):
    """GB200 is marketed as 186GB (MIG guide) and GB300 as 288 GB (Blackwell Ultra post),
    while nvidia-smi reports 198.7 GB and 298.0 GB: the marketed figures are not the bytes
    software gets."""
    for record_id in ("gb200_nvl72", "gb300_nvl72"):
        record = live.get("hardware", record_id)
        assert record.si("memory.capacity_usable") > record.si("memory.capacity")


def test_memory_capacity_prefers_the_usable_figure(frozen):
    h100 = frozen.get("hardware", "h100_sxm")
    value, basis = memory_capacity(h100)
    assert basis == "usable"
    assert value.path.endswith("memory.capacity_usable")
    assert value.si == pytest.approx(81559 * MIB)


def test_memory_capacity_falls_back_to_the_marketed_figure(frozen):
    """A record without a usable figure is checked against its marketed capacity."""
    record = next(r for r in frozen.records("hardware")
                  if r.has("memory.capacity") and not r.has("memory.capacity_usable"))
    value, basis = memory_capacity(record)
    assert basis == "marketed"
    assert value.si == pytest.approx(record.si("memory.capacity"))


def test_memory_capacity_none_when_nothing_is_stated(catalog_copy):
    root = catalog_copy()
    path = root / "hardware" / "cloud" / "fx100.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace('  capacity: {value: 80, unit: GB, source: fixture-datasheet, as_stated: "80GB"}\n', "")
    path.write_text(text, encoding="utf-8")
    record = load_catalog(root).get("hardware", "fx100")
    assert memory_capacity(record) == (None, "none")
    assert "not checked" in capacity_note("FX100", float("inf"), "none")


def test_engine_checks_fit_against_usable_capacity_and_says_so(frozen):
    from mlsysim import Engine

    h100 = frozen.get("hardware", "h100_sxm")
    model = frozen.get("models", "llama3_8b")
    profile = Engine.solve(model=model, hardware=h100, batch_size=1, precision="fp16")
    assert profile.si["memory_capacity"] == pytest.approx(81559 * MIB)
    assert profile.memory_capacity_basis == "usable"
    data = profile.to_dict()
    assert data["memory_capacity_basis"] == "usable"
    assert "usable capacity" in data["memory_capacity_note"] and "85.52 GB" in data["memory_capacity_note"]
    paths = {e.path for e in profile.lineage.entries()}
    assert "hardware/h100_sxm#memory.capacity_usable" in paths
    assert "hardware/h100_sxm#memory.capacity" not in paths


def test_engine_marketed_basis_without_usable_figure(frozen):
    from mlsysim import Engine

    record = frozen.get("hardware", "h200")
    assert not record.has("memory.capacity_usable")
    profile = Engine.solve(model=frozen.get("models", "llama3_8b"), hardware=record, batch_size=1, precision="fp16")
    assert profile.memory_capacity_basis == "marketed"
    assert profile.si["memory_capacity"] == pytest.approx(141e9)
    assert "marketed capacity" in profile.to_dict()["memory_capacity_note"]


def test_serving_fit_and_largest_batch_use_the_usable_capacity(frozen):
    """The largest batch that fits grows with the usable capacity: on one H100 (81559 MiB
    usable vs 80 GB marketed) Llama 3 8B fp16 holds 7% more bytes, so more sequences."""
    from mlsysim import ServingModel

    model, h100 = frozen.get("models", "llama3_8b"), frozen.get("hardware", "h100_sxm")
    serving = ServingModel(model, h100)
    memory = serving.memory(1, 512)
    assert memory.capacity == pytest.approx(81559 * MIB)
    assert memory.capacity_basis == "usable"
    assert memory.to_dict()["capacity_basis"] == "usable"
    per_sequence = 512 * serving.kv_cache_bytes_per_token()
    free_usable = 81559 * MIB - memory.weights
    assert serving.max_batch_size(512) == int(free_usable // per_sequence)
    assert serving.max_batch_size(512) > int((80e9 - memory.weights) // per_sequence)
