"""Tests for mlsysim/catalog/inputs.py: the one input layer every solver reads numbers through,
and the catalog a call's records belong to."""

from __future__ import annotations

import pytest

from mlsysim import Assumptions, Hardware, Models, Systems
from mlsysim.catalog import default_catalog, load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.catalog.inputs import (
    MixedCatalogsError,
    as_si,
    catalog_of,
    finite_positive,
    fraction,
    memo_key,
    per_direction,
    positive_int,
)
from mlsysim.lineage import Lineage
from tests import fleet_catalog


def test_as_si_takes_numbers_cited_values_assumptions_and_quantities():
    from mlsysim.catalog.units import Q_

    lineage = Lineage()
    assert as_si(2.5, "time", "t") == 2.5
    bw = Hardware.Cloud.H100.memory.bandwidth
    assert as_si(bw, "bandwidth", "bw", lineage) == bw.si and bw.path in lineage
    pue = Assumptions.PUE_LLaMA
    assert as_si(pue, "dimensionless", "pue", lineage) == pue.quantity.si
    assert as_si(Q_(3, "ms"), "time", "t") == pytest.approx(3e-3)


@pytest.mark.parametrize("value, dimension, message", [
    (Hardware.Cloud.H100.memory.capacity, "bandwidth", r"bw: hardware/h100_sxm#memory.capacity is a information, not a bandwidth"),
    (-1.0, "time", r"bw must be a finite number > 0 \(in second\), got -1.0"),
    (float("inf"), "time", r"bw must be a finite number > 0"),
    ("fast", "time", r"bw must be a number in second, a cited value or an assumption, got 'fast'"),
    (True, "time", r"bw must be a number"),
])
def test_as_si_errors_name_the_parameter_and_the_range(value, dimension, message):
    with pytest.raises(MlsysimError, match=message):
        as_si(value, dimension, "bw")


def test_as_si_refuses_a_record_that_is_not_an_assumption():
    with pytest.raises(MlsysimError, match="pue: hardware/h100_sxm is a hardware record, not an assumption"):
        as_si(Hardware.Cloud.H100, "dimensionless", "pue")


@pytest.mark.parametrize("value", [0, -3, 8.0, 1.5, True, "4", None])
def test_positive_int_refuses_anything_but_a_whole_number(value):
    with pytest.raises(MlsysimError, match=rf"tp must be a whole number >= 1, got {value!r}"):
        positive_int(value, "tp")


def test_positive_int_accepts_python_and_numpy_integers():
    import numpy as np

    assert positive_int(8, "tp") == 8
    assert positive_int(np.int64(4), "tp") == 4 and type(positive_int(np.int64(4), "tp")) is int


def test_fraction_is_in_zero_one():
    assert fraction(0.45, "efficiency") == 0.45
    assert fraction(1, "efficiency") == 1.0
    assert fraction(Assumptions.MFU_Megatron_1T, "efficiency") == pytest.approx(0.52)
    for bad in (0.0, 1.5, 52):
        with pytest.raises(MlsysimError, match=r"efficiency must be in \(0, 1\], got .*; write e.g. 0.45 for 45%"):
            fraction(bad, "efficiency")


def test_finite_positive():
    assert finite_positive(3, "duration") == 3.0
    with pytest.raises(MlsysimError, match="duration must be a finite number > 0, got nan"):
        finite_positive(float("nan"), "duration")


def test_per_direction_halves_only_what_is_stated_for_both_directions():
    """NVLink 4's 900 GB/s is both directions added together (qualifier bidirectional):
    450 GB/s each way. InfiniBand NDR's 400 Gb/s is per direction: kept as is."""
    nvlink = Hardware.Cloud.H100.interconnect.bandwidth
    assert nvlink.qualifiers["direction"] == "bidirectional"
    assert per_direction(nvlink) == pytest.approx(450e9)
    ndr = default_catalog().get("fabrics", "infiniband_ndr").link_bandwidth
    assert per_direction(ndr) == pytest.approx(ndr.si)


def test_catalog_of_is_the_records_catalog_and_refuses_two(tmp_path):
    other = load_catalog(fleet_catalog.build(tmp_path))
    bundled = default_catalog()
    assert catalog_of(Models.Language.Llama3_8B, 0.5, None) is bundled
    assert catalog_of(other.get("models", "llama3_8b")) is other
    assert catalog_of() is bundled  # nothing names one: the default
    with pytest.raises(MixedCatalogsError, match=r"hardware/h100_sxm comes from the catalog at .*, but this call's other "
                                                 r"inputs come from the catalog at .*look every record up in one catalog"):
        catalog_of(other.get("models", "llama3_8b"), Hardware.Cloud.H100)
    with pytest.raises(MixedCatalogsError):
        catalog_of(Models.Language.Llama3_8B, catalog=other)


def test_memo_keys_are_values_never_identities():
    h100 = Hardware.Cloud.H100
    assert memo_key(h100, 1, 1.0, True, "x", None) == (("hardware", "h100_sxm"), (int, 1), (float, 1.0), (bool, True), "x", None)
    assert memo_key(h100.memory.bandwidth) == ("hardware/h100_sxm#memory.bandwidth",)
    assert memo_key([1, 2]) is None  # unhashable inputs are not keyed (the caller then does not memoise)
    assert memo_key(Systems.Clusters.Research_256) == (("clusters", "research_256"),)
