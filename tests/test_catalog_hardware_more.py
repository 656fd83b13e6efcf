"""The real catalog's non-NVIDIA accelerators: microcontroller memories in binary units,
TPU interconnect directions, published figures of the TPU, Trainium and Gaudi records, and
the registry names the field already types.

These catch the errors found in the 2026 review: a vendor "KB" read as 1000 bytes (the
ESP32-S3's 512 KB of SRAM stored as 512,000 bytes instead of 524,288), and TPU ICI figures
quoted one per direction and one for both directions side by side (TPU v5p looked 4x TPU v4
instead of about 2x).
"""

from __future__ import annotations

import re

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.catalog.registry import Registry
from tests.conftest import REAL_CATALOG

_catalog = load_catalog(REAL_CATALOG)
HARDWARE = _catalog.records("hardware")
Hardware = Registry("hardware", catalog=lambda: _catalog)

KIB = 1024


def _by_id(record_id: str):
    return next(r for r in HARDWARE if r.id == record_id)


# --- microcontroller memories: the vendor's "KB" is 1024 bytes ---------------------------

TINY = [r for r in HARDWARE if r.tier == "tiny" and r.has("memory.capacity")]
BINARY_UNITS = re.compile(r"^[KMG]iB$")
DECIMAL_UNITS = re.compile(r"^[kKMG]B$")


@pytest.mark.parametrize("record", TINY, ids=lambda r: r.id)
def test_tiny_memory_states_its_prefix(record):
    """MCU vendors (Espressif, ST, Nordic) size SRAM and flash in powers of two and write
    "KB" for 1024 bytes. A tiny-tier capacity must say which prefix it uses (qualifier
    `prefix: binary|decimal`) and its unit must agree, so a "512KB" cannot silently load
    as 512,000 bytes."""
    capacity = record.memory.capacity
    prefix = capacity.qualifiers.get("prefix")
    assert prefix in ("binary", "decimal"), f"{capacity.path}: add qualifiers.prefix: binary (KiB/MiB) or decimal (kB/MB)"
    pattern = BINARY_UNITS if prefix == "binary" else DECIMAL_UNITS
    assert pattern.match(capacity.unit), f"{capacity.path}: unit {capacity.unit!r} does not match prefix {prefix!r}"


@pytest.mark.parametrize("record", TINY, ids=lambda r: r.id)
def test_tiny_memory_quoted_in_kb_is_not_read_as_decimal(record):
    """Where the quoted text writes KB or MB, the stored value must be the binary reading:
    a decimal unit next to a "KB" quote is exactly the ESP32-S3 error."""
    capacity = record.memory.capacity
    if re.search(r"\d\s*[KkM]B\b", capacity.as_stated or ""):
        assert capacity.qualifiers.get("prefix") == "binary", f"{capacity.path}: quoted {capacity.as_stated!r} but not stored in KiB/MiB"


@pytest.mark.parametrize(
    ("record_id", "expected_bytes"),
    [
        # Espressif's ESP32-S3 devicetree: SRAM0 DT_SIZE_K(32) + SRAM1 DT_SIZE_K(416) +
        # SRAM2 DT_SIZE_K(64) = 512 KiB (source espressif-esp32s3-devicetree).
        ("esp32_s3", 512 * KIB),
        # ST RM0390 section 2.1: SRAM1 112 KB + SRAM2 16 KB = 128 KiB (source st-rm0390-stm32f446).
        ("stm32f4", 128 * KIB),
        # Zephyr nrf52840_qiaa.dtsi: sram0 DT_SIZE_K(256) (source zephyr-nrf52840-qiaa-devicetree).
        ("nrf52840", 256 * KIB),
    ],
)
def test_mcu_sram_bytes(record_id, expected_bytes):
    """The on-chip SRAM in bytes, as the vendors' memory maps size it (DT_SIZE_K = x1024)."""
    assert _by_id(record_id).get("memory.capacity").to("B").magnitude == pytest.approx(expected_bytes, rel=1e-9)


# --- TPU interconnect: every value says which direction it counts -------------------------

TPUS = [r for r in HARDWARE if r.vendor == "Google" and r.id.startswith("tpu_")]


def test_every_interconnect_direction_uses_the_catalog_vocabulary():
    """`direction` is `bidirectional` (both directions added, e.g. NVLink 900 GB/s),
    `unidirectional` (one direction) or `unstated` (the source does not say: no solver
    derives a per-direction figure from it); mlsysim.catalog.inputs.per_direction halves
    only the first."""
    for record in HARDWARE:
        bandwidth = record.get("interconnect.bandwidth")
        if bandwidth is not None and "direction" in bandwidth.qualifiers:
            assert bandwidth.qualifiers["direction"] in ("bidirectional", "unidirectional", "unstated"), bandwidth.path


@pytest.mark.parametrize("record", [r for r in TPUS if r.has("interconnect.bandwidth")], ids=lambda r: r.id)
def test_tpu_interconnect_states_direction(record):
    """Google's TPU pages have quoted ICI per direction (v5e "1600 Gbps", v5p "4800 Gbps")
    and for both directions ("Bidirectional ... 400 GBps", "... 1200"): a TPU value without
    a direction cannot be compared with its neighbours."""
    bandwidth = record.interconnect.bandwidth
    assert bandwidth.qualifiers.get("direction") in ("bidirectional", "unidirectional"), f"{bandwidth.path}: state qualifiers.direction"


def _per_direction(record_id: str) -> float:
    bandwidth = _by_id(record_id).interconnect.bandwidth
    return bandwidth.si / 2 if bandwidth.qualifiers["direction"] == "bidirectional" else bandwidth.si


def test_tpu_v5p_over_v4_ici_per_direction_matches_google():
    """Google DeepMind's scaling book ("How to Think About TPUs", interconnect table) gives
    ICI one-way bandwidth per link of 4.5e10 bytes/s for TPU v4p and 1e11 for TPU v5p; both
    chips have 6 links (3D torus), so per chip and per direction v5p/v4 = 2.2. Before the
    fix the catalog held v4 as 2400 Gbit/s (one direction) and v5p as 1200 GB/s (both
    directions), a ratio of 4."""
    assert _per_direction("tpu_v5p") / _per_direction("tpu_v4") == pytest.approx(1e11 / 4.5e10, rel=0.05)


def test_tpu_v6e_over_v5e_ici_per_direction_matches_google():
    """Google Cloud's v5e and v6e tables: "Bidirectional inter-chip interconnect (ICI)
    bandwidth (per chip)" 400 GBps (v5e) and 800 GBps (v6e), both over 4 ports; the scaling
    book's per-link one-way figures are 5e10 and 1e11 bytes/s, the same factor of 2."""
    assert _per_direction("tpu_v6e") / _per_direction("tpu_v5e") == pytest.approx(2.0, rel=0.01)


# --- published figures, read back from the records -----------------------------------------


def test_tpu_v1_ridge_point_matches_the_paper():
    """Jouppi et al., ISCA 2017 (arXiv 1704.04760), Figure 5: the TPU's ridge point is "far
    to the right at 1350 multiply-accumulate operations per byte of weight memory read";
    92 TOPS (2 ops per MAC) over 34 GB/s is 1353 MACs/byte."""
    record = _by_id("tpu_v1")
    macs_per_byte = record.si("compute.int8") / 2 / record.si("memory.bandwidth")
    assert macs_per_byte == pytest.approx(1350, rel=0.01)


@pytest.mark.parametrize(
    ("record_id", "path", "value", "unit"),
    [
        # Google Cloud TPU v6e docs, key specifications table.
        ("tpu_v6e", "compute.bf16", 918, "TFLOP/s"),
        ("tpu_v6e", "memory.bandwidth", 1638, "GB/s"),
        # Google Cloud TPU v3 docs: "123 teraflops (bf16)", "32 GiB, 900 GBps".
        ("tpu_v3", "compute.bf16", 123, "TFLOP/s"),
        ("tpu_v3", "memory.capacity", 32 * 2**30 * 8, "bit"),
        # AWS Neuron Trainium2 architecture: "655 BF16/FP16/TF32 TFLOPS", "96 GiB ... 2.9 TB/sec".
        ("trainium2", "compute.bf16", 655, "TFLOP/s"),
        ("trainium2", "memory.bandwidth", 2.9, "TB/s"),
        # AWS Neuron Inferentia2 architecture: "820 GiB/sec" (880.5 GB/s).
        ("inferentia2", "memory.bandwidth", 820 * 2**30 / 1e9, "GB/s"),
        # Intel Hot Chips 2024, Gaudi product generations: Gaudi 2 432 TFLOPs BF16, 2.46 TB/s.
        ("gaudi2", "compute.bf16", 432, "TFLOP/s"),
        ("gaudi2", "memory.bandwidth", 2.46, "TB/s"),
    ],
)
def test_published_figures(record_id, path, value, unit):
    """Vendor figures read back through the unit layer (GiB stays binary, TB/s decimal)."""
    assert _by_id(record_id).get(path).to(unit).magnitude == pytest.approx(value, rel=1e-3)


def test_trainium2_sparse_figure_is_filed_only_against_fp8():
    """AWS gives one sparse figure, 2,551 TFLOPS, for FP8/FP16/BF16/TF32: 2x the dense FP8
    rate (1,287) but 3.9x the dense 16-bit rate (655), so only FP8 may carry it."""
    record = _by_id("trainium2")
    assert set(record.compute_sparse.keys()) == {"fp8"}


# --- the names the field already types -----------------------------------------------------


@pytest.mark.parametrize(
    ("group", "name", "record_id"),
    [
        ("Cloud", "TPUv1", "tpu_v1"),
        ("Cloud", "TPUv3", "tpu_v3"),
        ("Cloud", "TPUv6", "tpu_v6e"),
        ("Cloud", "TPUv7", "tpu_v7"),
        ("Cloud", "MI250X", "mi250x"),
        ("Cloud", "MI350X", "mi350x"),
        ("Cloud", "MI355X", "mi355x"),
        ("Cloud", "Trainium2", "trainium2"),
        ("Cloud", "Gaudi2", "gaudi2"),
        ("Cloud", "Graphcore_GC200", "graphcore_gc200"),
        ("Cloud", "Groq_LPU", "groq_lpu"),
        ("Cloud", "DMatrix_Corsair", "dmatrix_corsair"),
        ("Cloud", "Untether_speedAI240", "untether_speedai240"),
        ("Mobile", "AppleM2", "apple_m2"),
        ("Tiny", "STM32F4", "stm32f4"),
        ("Tiny", "nRF52840", "nrf52840"),
    ],
)
def test_registry_names(group, name, record_id):
    """`Hardware.<Tier>.<first alias>` resolves to the record (the names mlsysim 0.3 used)."""
    assert getattr(getattr(Hardware, group), name).id == record_id
