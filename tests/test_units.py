"""mlsysim/catalog/units.py: information, compute and currency are real dimensions."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlsysim.catalog.units import DIMENSIONS, Q_, UnitError, dimension_of, to_canonical


def test_bandwidth_cannot_become_frequency():
    with pytest.raises(Exception, match="[Cc]annot convert"):
        Q_(3.35, "TB/s").to("Hz")
    with pytest.raises(UnitError, match="'TB/s' is not a frequency; write e.g. 'GHz'"):
        to_canonical(3.35, "TB/s", "frequency")


def test_compute_over_bandwidth_is_flop_per_byte():
    intensity = Q_(989, "TFLOP/s") / Q_(3.35, "TB/s")
    assert intensity.to("FLOP/byte").magnitude == pytest.approx(989 / 3.35)
    assert dimension_of("FLOP/byte") is None  # not a schema dimension, but a valid unit


def test_gigabytes_are_not_gibibytes():
    assert Q_(80, "GB") != Q_(80, "GiB")
    assert Q_(80, "GB").to("GiB").magnitude == pytest.approx(80e9 / 2**30)
    assert to_canonical(1, "GiB", "information") == 2**30
    assert to_canonical(1, "GB", "information") == 1e9


@pytest.mark.parametrize(
    ("unit", "dimension", "si"),
    [
        ("gCO2/kWh", "carbon_intensity", 1e-3 / 3.6e6),
        ("gCO2e/kWh", "carbon_intensity", 1e-3 / 3.6e6),
        ("W", "power", 1.0),
        ("USD/h", "price_per_hour", 1 / 3600),
        ("USD/hour", "price_per_hour", 1 / 3600),
        ("hour", "time", 3600.0),
        ("token/s", "token_rate", 1.0),
        ("TOPS", "compute_rate", 1e12),
        ("GMAC", "compute", 2e9),
        ("Gbit/s", "bandwidth", 1.25e8),
        ("billion", "dimensionless", 1e9),
        ("L/kWh", "water_intensity", 1e-3 / 3.6e6),
    ],
)
def test_units_parse_to_canonical(unit, dimension, si):
    assert to_canonical(1.0, unit, dimension) == pytest.approx(si)
    assert dimension_of(unit) == dimension


def test_token_is_a_dimension():
    assert dimension_of("token") is None
    with pytest.raises(UnitError, match="not a plain count"):
        to_canonical(1, "token", "dimensionless")


def test_multiply_accumulate_is_two_flops():
    assert Q_(4.1, "GMAC").to("GFLOP").magnitude == pytest.approx(8.2)


@pytest.mark.parametrize(("unit", "hint"), [("KB", "'kB'"), ("Gbps", "Gbit/s"), ("EUR", "only USD")])
def test_common_slips_get_a_hint(unit, hint):
    with pytest.raises(UnitError, match=hint):
        to_canonical(1, unit, "information")


@given(
    value=st.floats(min_value=1e-6, max_value=1e6),
    prefix=st.sampled_from(["", "k", "M", "G", "T", "Ki", "Mi", "Gi"]),
)
def test_information_round_trips_through_canonical(value, prefix):
    unit = f"{prefix}B"
    si = to_canonical(value, unit, "information")
    assert Q_(si, "byte").to(unit).magnitude == pytest.approx(value, rel=1e-12)


def test_every_dimension_has_a_parsable_example():
    for name, dim in DIMENSIONS.items():
        if name != "dimensionless":
            assert dimension_of(dim.example_unit) == name
