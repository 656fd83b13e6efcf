"""The real catalog's accelerators: dense peaks are consistent across precisions,
sparse figures are twice the dense ones, and every ridge point (peak FLOP/s over
memory bandwidth) lands in a band plausible for its tier.

These catch the common transcription traps: a "with sparsity" figure filed as
dense (then FP16 looks 2x too high against INT8), a PFLOP/s typed as TFLOP/s, a
GB/s typed as TB/s (the ridge point moves by 1000x).
"""

from __future__ import annotations

import pytest

from mlsysim.catalog import load_catalog
from tests.conftest import REAL_CATALOG

_catalog = load_catalog(REAL_CATALOG)
HARDWARE = _catalog.records("hardware")

# The qualifier a record sets on a value that breaks one of the usual ratios
# below, saying why (e.g. the chip runs FP8 at its BF16 rate).
EXCEPTION = "precision_scaling"

# (precision, reference, ratio): dense peak of `precision` = ratio x dense peak of
# `reference`, as tensor units of 2017-2025 are built. "half" is FP16, or BF16 when
# the vendor states no FP16 figure.
#  - BF16 = FP16: the same multiplier array handles both 16-bit formats
#    (V100 has no BF16; A100, H100, B200, MI300X, L4 state equal figures).
#  - FP8 = 2 x half and INT8 = 2 x half: 8-bit operands double the MACs per cycle
#    (Hopper, Blackwell, Ada, CDNA 3; Turing and Ampere for INT8; TPU v5e).
#  - FP6 = FP8 and FP4 = 2 x FP8: Blackwell's FP6 runs at its FP8 rate, FP4 doubles it.
#  - TF32 = half / 2: 19-bit TF32 inputs take two passes of the 16-bit array.
#  - INT4 = 2 x INT8 (Turing).
RATIOS = [
    ("bf16", "fp16", 1.0),
    ("fp8", "half", 2.0),
    ("int8", "half", 2.0),
    ("fp6", "fp8", 1.0),
    ("fp4", "fp8", 2.0),
    ("tf32", "half", 0.5),
    ("int4", "int8", 2.0),
]
# Vendors round their tables (H100: 989.5 vs 1,979; L4: 121 vs 242.5); 1% covers
# rounding to three or four significant figures, not a wrong row.
RATIO_TOLERANCE = 0.01


def _dense(record, precision: str):
    if precision == "half":
        return _dense(record, "fp16") or _dense(record, "bf16")
    return record.get(f"compute.{precision}")


def _ratio_cases():
    for record in HARDWARE:
        for precision, reference, ratio in RATIOS:
            value, base = _dense(record, precision), _dense(record, reference)
            if value is not None and base is not None:
                yield pytest.param(record, precision, reference, ratio, id=f"{record.id}-{precision}-vs-{reference}")


@pytest.mark.parametrize(("record", "precision", "reference", "ratio"), list(_ratio_cases()))
def test_dense_peaks_scale_across_precisions(record, precision, reference, ratio):
    value, base = _dense(record, precision), _dense(record, reference)
    expected = ratio * base.si
    if value.si == pytest.approx(expected, rel=RATIO_TOLERANCE):
        assert EXCEPTION not in value.qualifiers, f"{value.path} follows the usual ratio; drop its '{EXCEPTION}' qualifier"
        return
    reason = value.qualifiers.get(EXCEPTION)
    assert reason, (
        f"{value.path} = {value.value:g} {value.unit}, expected {ratio:g} x {base.path} = "
        f"{expected / value.si * value.value:g} {value.unit}; fix the value or say why in qualifiers.{EXCEPTION}"
    )


def test_precision_exceptions_are_the_known_ones():
    """Each exception is a real architectural fact, read from the vendor's own table:
    Gaudi 3's MME states 1835 TFLOPs for both BF16 and FP8 (Intel, Hot Chips 2024);
    TPU v5p's table states 459 for both BF16 and FP8 (Google Cloud TPU v5p docs);
    TPU v4 states "275 teraflops (bf16 or int8)" (Google Cloud TPU v4 docs);
    AWS states cFP8 at the FP16/BF16 rate (190) on Trainium and Inferentia2 and 1,287 FP8
    vs 655 BF16 TFLOPS on Trainium2 (AWS Neuron architecture docs); AMD lists Matrix INT8
    at the FP16 rate on CDNA 2 (MI250X: 383.0 TOPS and TF); Groq states 750 INT8 TOPS vs
    188 FP16 TFLOPS."""
    found = {v.path for r in HARDWARE for v in r.values() if EXCEPTION in v.qualifiers}
    assert found == {
        "hardware/gaudi3#compute.fp8",
        "hardware/tpu_v5p#compute.fp8",
        "hardware/tpu_v4#compute.int8",
        "hardware/trainium#compute.fp8",
        "hardware/inferentia2#compute.fp8",
        "hardware/trainium2#compute.fp8",
        "hardware/mi250x#compute.int8",
        "hardware/groq_lpu#compute.int8",
    }


def _sparse_cases():
    for record in HARDWARE:
        if record.has("compute_sparse"):
            for precision in record.compute_sparse.keys():
                if record.has(f"compute.{precision}"):
                    yield pytest.param(record, precision, id=f"{record.id}-{precision}")


@pytest.mark.parametrize(("record", "precision"), list(_sparse_cases()))
def test_sparse_peaks_are_twice_dense(record, precision):
    """2:4 structured sparsity skips half the multiplies: the vendors' sparse figure is 2x dense."""
    sparse, dense = record.compute_sparse[precision], record.compute[precision]
    assert sparse.si == pytest.approx(2 * dense.si, rel=RATIO_TOLERANCE), f"{sparse.path} vs {dense.path}"


def test_dense_table_holds_no_sparse_figure():
    for record in HARDWARE:
        for value in record.values():
            if value.path.split("#")[1].startswith("compute."):
                assert value.qualifiers.get("sparsity", "dense") == "dense", value.path


# Ridge point = peak compute / memory bandwidth [FLOP/byte, or OP/byte for integer
# peaks], at the first precision the record states in this order:
RIDGE_PRECISIONS = ["fp16", "bf16", "fp8", "int8", "fp32", "fp4"]
# Plausible bands, per tier and kind of memory:
#  - cloud, off-chip HBM/GDDR, 16-bit tensor peak: 100-700 FLOP/byte. Datacenter parts
#    of 2017-2025 pair 100s of TFLOP/s with 0.3-8 TB/s: V100 125 TFLOP/s / 0.9 TB/s = 139,
#    A100 153, H100 SXM 295, B200 281, MI300X 247, TPU v5p 166, L4 (GDDR6) 403. Below
#    100 means a sparse or per-node bandwidth figure slipped in; above 700 a
#    sparse or 8-bit compute figure was filed as 16-bit.
#  - workstation, unified LPDDR/DDR, usually an FP32 (vector) peak: 10-300 FLOP/byte
#    (M3 Max 14.2 TFLOP/s / 400 GB/s = 36; GB10 31 TFLOP/s / 273 GB/s = 114).
#  - edge and mobile, LPDDR, INT8 NPU peaks: 50-2000 OP/byte (Orin NX 50 TOPS dense /
#    102.4 GB/s = 488; phone NPUs of 30-50 TOPS on 50-80 GB/s sit at 400-1000).
#  - tiny MCUs have SRAM-resident models and publish no bandwidth, so no band.
#  - on-chip SRAM as main memory (Cerebras WSE-3: 125 PFLOP/s over 21 PB/s = 6):
#    1-50 FLOP/byte; wafer-scale SRAM is fast enough that almost nothing is memory bound.
#    A record marks its bandwidth with qualifier memory_kind: on-chip SRAM.
RIDGE_BANDS = {
    "cloud": (100, 700),
    "workstation": (10, 300),
    "edge": (50, 2000),
    "mobile": (50, 2000),
}
SRAM_BAND = (1, 50)
# Parts whose ridge point lies outside their tier's band by design, with the band their own
# source gives. TPU v1 (2015) fed a 92 TOPS int8 array from 34 GB/s of DDR3: Jouppi et al.
# (ISCA 2017, Figure 5) put its ridge "far to the right at 1350 multiply-accumulate
# operations per byte", i.e. ~2700 ops/byte.
RIDGE_OUTLIERS = {"tpu_v1": (2000, 3000)}


def _ridge(record):
    bandwidth = record.get("memory.bandwidth")
    for precision in RIDGE_PRECISIONS:
        if bandwidth is not None and record.has(f"compute.{precision}"):
            return precision, record.si(f"compute.{precision}") / bandwidth.si
    return None, None


@pytest.mark.parametrize("record", [r for r in HARDWARE if _ridge(r)[1] is not None], ids=lambda r: r.id)
def test_ridge_point_is_plausible_for_the_tier(record):
    precision, ridge = _ridge(record)
    sram = record.memory.bandwidth.qualifiers.get("memory_kind") == "on-chip SRAM"
    low, high = RIDGE_OUTLIERS.get(record.id) or (SRAM_BAND if sram else RIDGE_BANDS[record.tier])
    assert low <= ridge <= high, (
        f"{record.id}: ridge {ridge:.1f} FLOP/byte at {precision} is outside {low}-{high} for "
        f"{'on-chip SRAM' if sram else record.tier}; check compute.{precision} and memory.bandwidth"
    )


def test_every_cloud_and_workstation_accelerator_has_a_ridge_point():
    """Solvers need compute and bandwidth for every datacenter and desktop part."""
    missing = [r.id for r in HARDWARE if r.tier in ("cloud", "workstation") and _ridge(r)[1] is None]
    assert missing == []


def test_cloud_prices_are_per_accelerator_hour():
    """A per-instance price (8 GPUs) filed as per-GPU would be 8x too high: an
    on-demand accelerator-hour costs 0.1-20 USD across the catalog's parts."""
    for record in HARDWARE:
        price = record.get("cloud_price")
        if price is not None:
            assert 0.1 <= price.to("USD/hour").magnitude <= 20, price.path
            assert "per accelerator" in price.qualifiers.get("scope", ""), f"{price.path}: say scope: per accelerator"
