"""mlsysim/site/charts.py: SVG charts that are valid, self-contained, deterministic, and say what they show."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mlsysim.site.charts import Accelerator, ChartMaker, GridBar, Peak, _tick

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def maker() -> ChartMaker:
    return ChartMaker()


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")]


def test_roofline_labels_each_roof_and_axis(maker):
    svg = maker.roofline("FX100", [Peak("FP8", 2e15), Peak("FP16", 1e15)], 4e12)
    texts = _texts(svg)
    assert "Roofline: FX100 (4,000 GB/s memory)" in texts
    assert "FP8  2,000" in texts and "FP16  1,000" in texts
    assert "Arithmetic intensity [FLOP/byte]" in texts and "Attainable [TFLOP/s, or TOPS]" in texts


def test_charts_are_self_contained_and_deterministic(maker):
    points = [Accelerator("A", "cloud", 1e15, 3e12), Accelerator("B", "edge", 5e13, 1e11, "INT8")]
    first = maker.compute_vs_bandwidth(points)
    again = maker.compute_vs_bandwidth(points)
    assert first == again  # fixed hash salt, no date: rebuilding changes no bytes
    assert "<image" not in first and "xlink:href=\"http" not in first and "@import" not in first
    assert {"A", "B", "cloud, 16-bit float", "edge, INT8"} <= set(_texts(first))


def test_grid_chart_sorts_bars_and_names_the_basis(maker):
    svg = maker.grid_intensity([GridBar("High (2023)", 700, "lifecycle"), GridBar("Low (2023)", 30, "direct")])
    texts = _texts(svg)
    assert texts.index("Low (2023)") < texts.index("High (2023)")  # lowest first, drawn bottom up
    assert {"lifecycle", "direct", "700", "30", "Carbon intensity [gCO2e/kWh]"} <= set(texts)


@pytest.mark.parametrize(("value", "label"), [(0.1, "0.1"), (1, "1"), (100, "100"), (1000, "1k"), (25000, "25k"), (1e6, "1M")])
def test_log_tick_labels_are_plain(value, label):
    assert _tick(value) == label
