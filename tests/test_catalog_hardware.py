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
    Blackwell Ultra (B300, GB300) runs NVFP4 at 15 PF dense, 1.5x Blackwell's 10 PF,
    while FP8 stays at Blackwell's rate (NVIDIA, "Inside NVIDIA Blackwell Ultra", 2025);
    Rubin's announced figures put FP8 at 17.5 PF against 4 PF BF16 (NVIDIA's Vera
    Rubin NVL72 figures as tabulated in the ml-engineering book).
    AWS states cFP8 at the FP16/BF16 rate (190) on Trainium and Inferentia2 and 1,287 FP8
    vs 655 BF16 TFLOPS on Trainium2 (AWS Neuron architecture docs); AMD lists Matrix INT8
    at the FP16 rate on CDNA 2 (MI250X: 383.0 TOPS and TF); Groq states 750 INT8 TOPS vs
    188 FP16 TFLOPS."""
    found = {v.path for r in HARDWARE for v in r.values() if EXCEPTION in v.qualifiers}
    assert found == {
        "hardware/gaudi3#compute.fp8",
        "hardware/tpu_v5p#compute.fp8",
        "hardware/tpu_v4#compute.int8",
        "hardware/b300#compute.fp4",
        "hardware/gb300_nvl72#compute.fp4",
        "hardware/rubin#compute.fp8",
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


# The qualifier a sparse figure carries when the vendor states a sparse/dense ratio other
# than 2, saying why.
SPARSITY_EXCEPTION = "sparsity_scaling"


@pytest.mark.parametrize(("record", "precision"), list(_sparse_cases()))
def test_sparse_peaks_are_twice_dense(record, precision):
    """2:4 structured sparsity skips half the multiplies: the vendors' sparse figure is 2x dense."""
    sparse, dense = record.compute_sparse[precision], record.compute[precision]
    if sparse.si == pytest.approx(2 * dense.si, rel=RATIO_TOLERANCE):
        assert SPARSITY_EXCEPTION not in sparse.qualifiers, f"{sparse.path} is 2x dense; drop its '{SPARSITY_EXCEPTION}' qualifier"
        return
    assert sparse.qualifiers.get(SPARSITY_EXCEPTION), f"{sparse.path} vs {dense.path}: not 2x; fix it or say why in qualifiers.{SPARSITY_EXCEPTION}"


def test_sparsity_exceptions_are_the_known_ones():
    """NVIDIA states 30 PFLOPS dense and 40 PFLOPS sparse NVFP4 for a Grace Blackwell
    Ultra Superchip (two GPUs): on Blackwell Ultra's NVFP4 path sparsity adds 1.33x,
    not 2x (NVIDIA, "Inside NVIDIA Blackwell Ultra", 2025)."""
    found = {v.path for r in HARDWARE for v in r.values() if SPARSITY_EXCEPTION in v.qualifiers}
    assert found == {"hardware/gb300_nvl72#compute_sparse.fp4"}
    ratio = _catalog.get("hardware", "gb300_nvl72").si("compute_sparse.fp4") / _catalog.get("hardware", "gb300_nvl72").si("compute.fp4")
    assert ratio == pytest.approx(40 / 30, rel=RATIO_TOLERANCE)


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
#  - workstation: 10-700 FLOP/byte. Unified LPDDR/DDR parts usually state an FP32
#    (vector) peak (M3 Max 14.2 TFLOP/s / 400 GB/s = 36; GB10 31 TFLOP/s / 273 GB/s = 114;
#    RTX PRO 6000 125 TFLOP/s / 1792 GB/s = 70); discrete GeForce cards state 8-bit tensor
#    peaks over GDDR, as datacenter cards do (RTX 4090 660 TOPS / 1008 GB/s = 655,
#    RTX 5090 838 / 1792 = 468).
#  - edge and mobile, LPDDR, INT8 NPU peaks: 50-2000 OP/byte (Orin NX 50 TOPS dense /
#    102.4 GB/s = 488; phone NPUs of 30-50 TOPS on 50-80 GB/s sit at 400-1000).
#  - tiny MCUs have SRAM-resident models and publish no bandwidth, so no band.
#  - on-chip SRAM as main memory (Cerebras WSE-3: 125 PFLOP/s over 21 PB/s = 6):
#    1-50 FLOP/byte; wafer-scale SRAM is fast enough that almost nothing is memory bound.
#    A record marks its bandwidth with qualifier memory_kind: on-chip SRAM.
#  - before tensor cores (release before 2017), any tier: 3-60 FLOP/byte. FP32/FP64 or
#    packed-FP16 peaks over GDDR5/HBM2: GTX 580 1.58 TFLOP/s / 192 GB/s = 8, K80
#    8.73 / 480 = 18, P100 FP16 21.2 / 720 = 29.
#  - a 4-bit peak is twice the 8-bit peak of the same silicon (Blackwell), so a ridge
#    taken at FP4 may sit up to twice as high: Jetson AGX Thor 1035 TFLOP/s dense FP4 /
#    273 GB/s = 3791 against the edge band's 2000.
RIDGE_BANDS = {
    "cloud": (100, 700),
    "workstation": (10, 700),
    "edge": (50, 2000),
    "mobile": (50, 2000),
}
SRAM_BAND = (1, 50)
PRE_TENSOR_BAND = (3, 60)
TENSOR_CORE_YEAR = 2017
PRECISION_BAND_SCALE = {"fp4": 2.0}
# Parts whose ridge point is outside their tier's band by design, with the reason:
RIDGE_EXCEPTIONS = {
    # US export rules (Oct 2023) capped its compute at ~15% of an H100 while it keeps
    # 4.0 TB/s of HBM: 296 TFLOP/s FP8 / 4.0 TB/s = 74 FLOP/byte, built for memory-bound
    # inference.
    "h20": (30, 100),
    # TPU v1 (2015) fed a 92 TOPS int8 array from 34 GB/s of DDR3: Jouppi et al. (ISCA
    # 2017, Figure 5) put its ridge "far to the right at 1350 multiply-accumulate
    # operations per byte", i.e. ~2700 ops/byte.
    "tpu_v1": (2000, 3000),
    # TPU v2 (2017) put 16 GiB of HBM at 700 GB/s beside 46 TFLOP/s bf16 (Jouppi et al.,
    # CACM 63(7) 2020, Table 3): 66 FLOP/byte, a balance tilted toward bandwidth before the
    # matrix units grew (TPU v3: 123 TFLOP/s / 900 GB/s = 137).
    "tpu_v2": (50, 100),
}


def _ridge(record):
    bandwidth = record.get("memory.bandwidth")
    for precision in RIDGE_PRECISIONS:
        if bandwidth is not None and record.has(f"compute.{precision}"):
            return precision, record.si(f"compute.{precision}") / bandwidth.si
    return None, None


def _band(record, precision):
    """The plausible ridge band for a record, and what it is named after."""
    if record.id in RIDGE_EXCEPTIONS:
        low, high = RIDGE_EXCEPTIONS[record.id]
        return low, high, f"its listed exception ({record.id})"
    if record.memory.bandwidth.qualifiers.get("memory_kind") == "on-chip SRAM":
        return *SRAM_BAND, "on-chip SRAM"
    if record.release_year < TENSOR_CORE_YEAR:
        return *PRE_TENSOR_BAND, f"a pre-{TENSOR_CORE_YEAR} part"
    low, high = RIDGE_BANDS[record.tier]
    scale = PRECISION_BAND_SCALE.get(precision, 1.0)
    return low * scale, high * scale, record.tier + (f" at {precision}" if scale != 1.0 else "")


@pytest.mark.parametrize("record", [r for r in HARDWARE if _ridge(r)[1] is not None], ids=lambda r: r.id)
def test_ridge_point_is_plausible_for_the_tier(record):
    precision, ridge = _ridge(record)
    low, high, what = _band(record, precision)
    assert low <= ridge <= high, (
        f"{record.id}: ridge {ridge:.1f} FLOP/byte at {precision} is outside {low:g}-{high:g} for "
        f"{what}; check compute.{precision} and memory.bandwidth"
    )


def test_ridge_exceptions_are_needed():
    """An exception must still be outside its tier's own band, else it hides nothing and should go."""
    for record_id in RIDGE_EXCEPTIONS:
        record = _catalog.get("hardware", record_id)
        precision, ridge = _ridge(record)
        low, high = RIDGE_BANDS[record.tier]
        assert not low <= ridge <= high, f"{record_id}'s ridge {ridge:.0f} is inside the {record.tier} band; drop the exception"


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


# ---- NVIDIA records: primary sources first ----------------------------------------------

NVIDIA = [r for r in HARDWARE if r.vendor == "NVIDIA"]

# NVIDIA records that may cite secondary sources for some values, and why. Every other
# NVIDIA record must cite NVIDIA's own documents (sources with authority: primary) for
# every value. A record leaves this list once all its values are primary.
NVIDIA_SECONDARY_ALLOWED = {
    "a100_sxm_80gb": "memory bandwidth, TDP and cloud price from secondary tables; SM count and usable memory measured (deviceQuery)",
    "b200": "dense peaks, bandwidth and TGP from the ml-engineering table (it cites NVIDIA's DGX B200 datasheet)",
    "b300": "dense peaks other than NVFP4, and TGP, from the ml-engineering table (it cites NVIDIA's DGX B300 datasheet)",
    "gb200_nvl72": "dense per-chip peaks, bandwidth and power from the ml-engineering table",
    "gb300_nvl72": "dense peaks other than NVFP4, and power, from the ml-engineering table",
    "rubin": "announced figures as tabulated by the ml-engineering book from NVIDIA's Vera Rubin NVL72 page",
    "gh200": "peaks and bandwidth from the ml-engineering table; SM count measured (OpenCL); superchip power from notes",
    "h20": "no NVIDIA document states its compute or power; a community comparison table does",
    "h100_sxm": "peaks and TDP from a reseller's copy of NVIDIA's spec table; SM count measured; price from AWS",
    "h100_pcie": "peaks, bandwidth and TDP from a reseller's copy of NVIDIA's spec table",
    "h200": "peaks, bandwidth and TDP from the ml-engineering table; price from AWS",
    "l4": "community transcription of NVIDIA's L4 datasheet; SM count and usable memory measured",
    "l40s": "community tables (ml-engineering, gpu-specs) transcribing NVIDIA's L40S datasheet",
    "a10": "community transcriptions of NVIDIA's A10 datasheet",
    "t4": "PyTorch Lightning's peak table (cites NVIDIA's T4 datasheet), a GPU database and launch news",
    "k80": "NVIDIA's K80 bullets as reproduced in installation notes; TDP from a hardware template",
    "v100_pcie": "community transcription of NVIDIA's V100 datasheet",
    "rtx_4090": "community tables; GeForce cards have no NVIDIA datasheet with tensor peaks per accumulate type",
    "rtx_5090": "a magazine review and a community table",
    "rtx_pro_6000_blackwell": "a transcription of NVIDIA's RTX PRO 6000 datasheet (memory size is NVIDIA's own)",
    "gtx580_3gb": "launch reviews and the AlexNet paper; the 3 GB card is a board-partner product",
    "jetson_agx_orin_64gb": "SM count and L2 size measured (deviceQuery on the 32 GB developer kit)",
    "jetson_orin_nx": "memory from a carrier-board vendor; SM count and L2 size measured, FP32 estimated from them (deviceQuery)",
    "jetson_orin_nano_8gb": "a reproduction of NVIDIA's Jetson module table",
    "jetson_agx_thor_t5000": "a reproduction of NVIDIA's Jetson module table; SM count and L2 size measured (deviceQuery)",
    "drive_thor": "a reproduction of NVIDIA's 2022 announcement; only an estimated headline",
    "dgx_spark": "secondary reports of NVIDIA's DGX Spark figures",
}


def _secondary(record):
    return [v for v in record.values() if v.source.get("authority", "primary") != "primary"]


@pytest.mark.parametrize("record", NVIDIA, ids=lambda r: r.id)
def test_nvidia_values_cite_nvidia_documents(record):
    """NVIDIA's own documents first: every value of an NVIDIA record cites a primary
    source unless the record is listed, with a reason, in NVIDIA_SECONDARY_ALLOWED."""
    secondary = _secondary(record)
    if record.id in NVIDIA_SECONDARY_ALLOWED:
        assert secondary, f"{record.id} now cites only primary sources; remove it from NVIDIA_SECONDARY_ALLOWED"
    else:
        assert secondary == [], f"{record.id}: {[v.path for v in secondary]} cite secondary sources; cite NVIDIA or list the record"


def test_nvidia_secondary_exceptions_name_real_records():
    assert set(NVIDIA_SECONDARY_ALLOWED) <= {r.id for r in NVIDIA}


def test_nvidia_secondary_sources_say_what_they_reproduce():
    """A secondary source is only usable if its note tells the reader what it reproduces."""
    sources = {v.source_id: v.source for r in NVIDIA for v in _secondary(r)}
    unexplained = sorted(sid for sid, src in sources.items() if not src.get("note"))
    assert unexplained == []


_LOOKUP_WORDS = ("search tool", "not reachable", "could not be read", "file index", "read_file", "find_string", "corpus")


# Prices are cited from shared pricing sources (also used by catalog/assumptions), kept
# out of this hardware-data check.
_PRICE_FIELDS = ("cloud_price", "unit_cost")


def test_nvidia_notes_speak_to_the_reader():
    """Notes describe the value, never how it was looked up."""
    texts = []
    for record in NVIDIA:
        texts.append((record.id, record.get("description") or ""))
        for value in record.values():
            texts.append((value.path, value.note or ""))
            if not value.path.split("#")[1].startswith(_PRICE_FIELDS):
                texts.append((value.source_id, value.source.get("note") or ""))
    offending = sorted({where for where, text in texts for word in _LOOKUP_WORDS if word in text.lower()})
    assert offending == []


def test_a100_40gb_matches_nvidia_ampere_table():
    """NVIDIA, "NVIDIA Ampere Architecture In-Depth" (2020), Tables 1 and 3: A100 SXM4
    40 GB, 312 TFLOPS dense FP16/BF16 tensor (624 with sparsity), 1555 GB/s, 400 W, 108 SMs."""
    a100 = _catalog.get("hardware", "a100_sxm_40gb")
    assert a100.compute.bf16.to("TFLOP/s").magnitude == pytest.approx(312, rel=1e-3)
    assert a100.compute_sparse.bf16.to("TFLOP/s").magnitude == pytest.approx(624, rel=1e-3)
    assert a100.memory.bandwidth.to("GB/s").magnitude == pytest.approx(1555, rel=1e-3)
    assert a100.tdp.to("W").magnitude == pytest.approx(400, rel=1e-3)
    assert a100.compute_units.value == 108


# ---- usable memory ---------------------------------------------------------------------

def test_usable_capacity_is_measured_and_close_to_the_marketed_one():
    """What software can allocate is a reading (nvidia-smi, deviceQuery), and lies within
    10% of the marketed capacity: the H100 80GB HBM3 reports 81559 MiB = 85.5 GB
    (NVIDIA MIG User Guide r580), the A100-SXM4-80GB 85.1 GB and the L4 23.6 GB (deviceQuery)."""
    usable = [r for r in HARDWARE if r.has("memory.capacity_usable")]
    assert {r.id for r in usable} >= {"h100_sxm", "a100_sxm_80gb", "l4"}
    for record in usable:
        value = record.memory.capacity_usable
        assert value.method == "measured", value.path
        assert value.qualifiers.get("reported_by"), f"{value.path}: say which tool reported it"
        assert 0.9 <= value.si / record.si("memory.capacity") <= 1.1, value.path
    h100 = _catalog.get("hardware", "h100_sxm").memory.capacity_usable
    assert h100.to("MiB").magnitude == pytest.approx(81559, rel=1e-6)


# ---- announced parts -------------------------------------------------------------------

ANNOUNCED = [r for r in HARDWARE if r.get("status") == "announced"]


def test_announced_records_are_the_known_ones():
    """Only parts that have not shipped carry status: announced (Rubin: NVIDIA's Vera
    Rubin NVL72 pre-release figures)."""
    assert {r.id for r in ANNOUNCED} == {"rubin"}


@pytest.mark.parametrize("record", ANNOUNCED, ids=lambda r: r.id)
def test_announced_records_say_so_and_carry_no_prices(record):
    """A pre-release figure must not pass for a datasheet one: the name and description
    say 'announced', and no price (nothing can be bought or rented yet) is given."""
    assert "announced" in record.name.lower()
    assert "announced" in (record.get("description") or "").lower()
    assert not record.has("unit_cost") and not record.has("cloud_price")
    assert record.has("compute") and record.get("memory.bandwidth") is not None
    for value in record.values():
        assert value.method in ("stated", "derived"), f"{value.path}: an announced figure is stated by the vendor, not estimated"


# ---- names the field already types -----------------------------------------------------

FIELD_NAMES = {
    "Cloud": ["K80", "P100", "V100_PCIe", "GB200_NVL72", "B300", "GB300_NVL72", "GH200", "H20", "L40S", "A10", "Rubin"],
    "Edge": ["DriveThor", "JetsonAGXOrin", "JetsonOrinNano", "JetsonOrinNX", "JetsonAGXThor"],
    "Workstation": ["GTX580_3GB", "RTX4090", "RTX5090", "RTX_PRO_6000"],
}


@pytest.mark.parametrize(("group", "name"), [(g, n) for g, names in FIELD_NAMES.items() for n in names])
def test_field_reference_names_resolve_in_their_tier(group, name):
    import mlsysim

    record = getattr(getattr(mlsysim.Hardware, group), name)
    assert record.tier == group.lower() and record.vendor == "NVIDIA"
