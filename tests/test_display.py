"""mlsysim/catalog/display.py: one formatter for people, no scientific notation."""

from __future__ import annotations

import math

from hypothesis import given, strategies as st

from mlsysim.catalog.display import format_duration, format_number, format_quantity
from mlsysim.catalog.units import DIMENSIONS


def test_awkward_figures_from_the_cli_read_naturally():
    assert format_quantity(0.08389e9, "information") == "83.89 MB"      # was "0.08389 GB KV cache"
    assert format_quantity(524_288, "information") == "524.3 kB"        # ESP32-S3 SRAM, was "0.000512 GB"
    assert format_quantity(2.458e8, "currency") == "245.8 million USD"  # was "capex: 2.458e+08"
    assert format_quantity(3e-6, "time") == "3 µs"                      # was "3 microsecond"
    assert format_number(1.024e4) == "10,240"                           # was "1.024e+04"
    assert format_quantity(0.36e-3 / 3.6e6, "carbon_intensity") == "0.36 g/kWh"            # Quebec, direct


def test_prefix_rolls_over_at_a_thousand():
    assert format_quantity(999.96e9, "information") == "1 TB"
    assert format_quantity(999.94e9, "information") == "999.9 GB"


@given(st.floats(min_value=-1e18, max_value=1e18, allow_nan=False), st.sampled_from(sorted(DIMENSIONS)))
def test_never_scientific_notation(value, dimension):
    text = format_quantity(value, dimension)
    assert "e+" not in text and "e-" not in text and "E" not in text.replace("USD", "").replace("years", "")


@given(st.floats(min_value=1e-9, max_value=1e12))
def test_four_significant_figures_round_trip(value):
    shown = float(format_number(value).replace(",", ""))
    assert math.isclose(shown, value, rel_tol=5e-4, abs_tol=5e-13) or value < 1e-4


def test_durations_pick_the_largest_unit_at_least_one():
    assert format_duration(90) == "1.5 min"
    assert format_duration(36 * 3600) == "1.5 days"
    assert format_duration(float("inf")) == "∞ s"
