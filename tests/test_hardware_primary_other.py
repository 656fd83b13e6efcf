"""Non-NVIDIA hardware values re-cited to the vendor's own documents (issue 13, item 2).

Each pinned value below cites a document of the vendor's own and keeps the figure that
document states:

- ESP32-S3 SRAM: Espressif's devicetree esp32s3_common.dtsi declares SRAM0/1/2 as
  DT_SIZE_K(32), DT_SIZE_K(416) and DT_SIZE_K(64): 512 KiB = 524,288 bytes.
- STM32F446 SRAM and clock: ST's CMSIS header stm32f446xx.h, "SRAM1(112 KB)" and
  "SRAM2(16 KB)" (SRAM2 at 0x2001C000, 112 x 1024 bytes above SRAM1): 128 KiB;
  RCC_MAX_FREQUENCY 180000000 Hz.
- nRF52840 SRAM and clock: Nordic's nrfx nrf52840_xxaa_memory.h,
  NRF_MEMORY_RAM_SIZE 0x00040000 (262,144 bytes); system_nrf52.c,
  __SYSTEM_CLOCK_DEFAULT 64000000UL.
- Himax WE-I Plus: Himax's WE1 EVB board brief, "Max. 400MHz clock frequency", "2MB SRAM".
- Intel Gaudi 2: Intel's MLPerf Inference v4.0 system description HLS-Gaudi2-PT.json,
  "accelerator_memory_capacity": "96 GB", "accelerator_interconnect": "24x 100Gb/s Ethernet".
- Intel Gaudi 3: Intel Gaudi docs, Network Configuration: 21 scale-up ports at 200 Gbps
  = 1050 GB/s bidirectional, 3 scale-out ports = 150 GB/s bidirectional (1200 GB/s in all).
- AMD MI250X: AMD lab notes (matrix-cores): 128 vector FP64/FP32 and 256 matrix FP64,
  1024 matrix FP16/BF16/INT8 FLOPs per clock per CU; ROCm gpu-arch-specs: "220 (110 per
  GCD)" CUs; ROCm MI250 page: 1.7 GHz peak clock. 220 x 128 x 1.7 GHz = 47.872 TFLOP/s.
- AMD MI325X: MLPerf Inference v5.0 summary, AMD's entry 5.0-0001,
  "AMD Instinct MI325X 256GB HBM3E".
- Groq LPU: Groq's ISCA 2022 paper page, "Each TSP contributes 220 MiBytes".
"""

from __future__ import annotations

import pytest

from mlsysim.catalog import load_catalog
from tests.conftest import REAL_CATALOG

_catalog = load_catalog(REAL_CATALOG)
KIB = 1024
MIB = 1024 * 1024


def _authority(value) -> str:
    return str(_catalog.sources.get(value.source_id, {}).get("authority", "primary"))


RECITED = [
    ("esp32_s3", "memory.capacity", "espressif-esp32s3-devicetree"),
    ("stm32f4", "memory.capacity", "st-cmsis-stm32f446xx-h"),
    ("stm32f4", "compute.int8", "st-cmsis-stm32f446xx-h"),
    ("nrf52840", "memory.capacity", "nordic-nrfx-nrf52840-memory-h"),
    ("nrf52840", "compute.int8", "nordic-nrfx-system-nrf52-c"),
    ("himax_we1", "memory.capacity", "himax-we1-evb-board-brief"),
    ("himax_we1", "compute.int8", "himax-we1-evb-board-brief"),
    ("gaudi2", "memory.capacity", "intel-mlperf-inference-v4-0-hls-gaudi2"),
    ("gaudi2", "interconnect.bandwidth", "intel-mlperf-inference-v4-0-hls-gaudi2"),
    ("gaudi3", "interconnect.bandwidth", "intel-gaudi-network-configuration"),
    ("mi250x", "compute.fp64", "amd-lab-notes-matrix-cores"),
    ("mi250x", "compute.fp64_tensor", "amd-lab-notes-matrix-cores"),
    ("mi250x", "compute.fp32", "amd-lab-notes-matrix-cores"),
    ("mi250x", "compute.fp16", "amd-lab-notes-matrix-cores"),
    ("mi250x", "compute.bf16", "amd-lab-notes-matrix-cores"),
    ("mi250x", "compute.int8", "amd-lab-notes-matrix-cores"),
    ("mi250x", "compute_units", "amd-rocm-gpu-arch-specs-rst"),
    ("mi325x", "memory.capacity", "mlcommons-inference-v5-0-summary-results"),
    ("groq_lpu", "memory.capacity", "groq-isca-2022-paper-page"),
]


@pytest.mark.parametrize(("record_id", "path", "source_id"), RECITED)
def test_value_cites_the_vendors_own_document(record_id, path, source_id):
    value = _catalog.get("hardware", record_id).field(path)
    assert value.source_id == source_id
    assert _authority(value) == "primary"
    assert value.locator and value.as_stated, f"{record_id}#{path}: give locator and as_stated"


@pytest.mark.parametrize(("record_id", "path", "expected"), [
    # Espressif devicetree: 32 + 416 + 64 KiB of internal SRAM.
    ("esp32_s3", "memory.capacity", 512 * KIB),
    # ST stm32f446xx.h: SRAM1 (112 KB) + SRAM2 (16 KB), KB = 1024 bytes.
    ("stm32f4", "memory.capacity", 128 * KIB),
    # Nordic nrf52840_xxaa_memory.h: NRF_MEMORY_RAM_SIZE 0x00040000.
    ("nrf52840", "memory.capacity", 0x40000),
    # Himax board brief: 2MB SRAM, read as 2 MiB.
    ("himax_we1", "memory.capacity", 2 * MIB),
    # Intel MLPerf v4.0 HLS-Gaudi2-PT: 96 GB.
    ("gaudi2", "memory.capacity", 96e9),
    # AMD MLPerf v5.0 entry 5.0-0001: 256GB HBM3E.
    ("mi325x", "memory.capacity", 256e9),
    # Groq ISCA 2022 page: 220 MiBytes per TSP.
    ("groq_lpu", "memory.capacity", 220 * MIB),
])
def test_recited_capacities_in_bytes(record_id, path, expected):
    assert _catalog.get("hardware", record_id).si(path) == pytest.approx(expected, rel=1e-9)


def test_gaudi_networking_counts_both_directions():
    """Gaudi 2: 24 x 100 Gb/s each way = 4.8 Tb/s bidirectional (Intel MLPerf v4.0);
    Gaudi 3: 1050 + 150 GB/s bidirectional = 1200 GB/s (Intel Gaudi docs)."""
    gaudi2 = _catalog.get("hardware", "gaudi2")
    gaudi3 = _catalog.get("hardware", "gaudi3")
    assert gaudi2.si("interconnect.bandwidth") * 8 == pytest.approx(2 * 24 * 100e9)
    assert gaudi3.si("interconnect.bandwidth") == pytest.approx(1050e9 + 150e9)
    for record in (gaudi2, gaudi3):
        assert record.field("interconnect.bandwidth").qualifiers.get("direction") == "bidirectional"


@pytest.mark.parametrize(("path", "flops_per_clock_per_cu"), [
    ("compute.fp64", 128),
    ("compute.fp32", 128),
    ("compute.fp64_tensor", 256),
    ("compute.fp16", 1024),
    ("compute.bf16", 1024),
    ("compute.int8", 1024),
])
def test_mi250x_peaks_are_cus_times_rate_times_clock(path, flops_per_clock_per_cu):
    """AMD lab notes (FLOPs/clock/CU) x 220 CUs (ROCm gpu-arch-specs) x 1.7 GHz (ROCm MI250
    page); AMD's product literature rounds these to 47.9, 95.7 and 383.0."""
    record = _catalog.get("hardware", "mi250x")
    cus = record.si("compute_units")
    assert cus == 220
    assert record.si(path) == pytest.approx(cus * flops_per_clock_per_cu * 1.7e9, rel=1e-9)
    assert record.field(path).method == "derived"
    assert record.field(path).claim["derived_from"] == ["hardware/mi250x#compute_units"]
