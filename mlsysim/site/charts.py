"""SVG charts drawn with matplotlib at build time.

The Agg backend (never a display), one SVG canvas and one Figure reused for
every chart: creating figures and importing pyplot dominate the cost of small
charts, so pyplot is never imported. Text stays
text in the SVG (`svg.fonttype: none`): smaller files, selectable labels, and
no font embedding work. Output is deterministic (fixed hash salt, no date).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

# Palette shared by every chart; tiers and bases get fixed colours so a chart
# reads the same on every page.
TIER_COLOURS = {
    "cloud": "#1f5fa8", "workstation": "#7a4fb3", "edge": "#c0621c", "mobile": "#2e8b57", "tiny": "#b0306a",
}
BASIS_COLOURS = {"lifecycle": "#2e7d4f", "direct": "#b0692a"}
LINE_COLOURS = ["#1f5fa8", "#c0621c", "#2e8b57", "#b0306a", "#7a4fb3", "#6b6b6b", "#8c7a00", "#0f7f8a"]


@dataclass(frozen=True)
class Peak:
    label: str  # e.g. "BF16 / FP16"
    flops: float  # [FLOP/s]


@dataclass(frozen=True)
class Accelerator:
    label: str
    tier: str
    flops: float  # [FLOP/s] dense 16-bit float peak, or INT8 peak when `integer`
    bandwidth: float  # [byte/s]
    integer: bool = False


@dataclass(frozen=True)
class GridBar:
    label: str
    intensity: float  # [gCO2e/kWh]
    basis: str


class ChartMaker:
    """Draws charts into one reused Figure and returns SVG text."""

    def __init__(self) -> None:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure

        matplotlib.rcParams.update({
            "svg.fonttype": "none",
            "svg.hashsalt": "mlsysim",
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.color": "#dddddd",
            "grid.linewidth": 0.6,
            "axes.edgecolor": "#555555",
            "axes.titlesize": 10,
            "axes.titleweight": "bold",
        })
        self._figure = Figure(figsize=(6.4, 3.6))
        self._canvas = FigureCanvasSVG(self._figure)

    def _svg(self) -> str:
        buffer = io.StringIO()
        self._figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "mlsysim"})
        self._figure.clear()
        return buffer.getvalue()

    def roofline(self, name: str, peaks: list[Peak], bandwidth: float) -> str:
        """Attainable performance = min(peak, bandwidth x intensity), one roof per precision
        (Williams, Waterman & Patterson 2009, "Roofline", CACM 52(4)).

        peaks [FLOP/s], bandwidth [byte/s]; axes in FLOP/byte and TFLOP/s.
        """
        self._figure.set_size_inches(6.4, 3.6)
        ax = self._figure.add_axes((0.11, 0.14, 0.68, 0.76))
        ridges = [p.flops / bandwidth for p in peaks]
        lo = 10 ** math.floor(math.log10(min(ridges) / 20))
        hi = 10 ** math.ceil(math.log10(max(ridges) * 20))
        ax.plot([lo, max(ridges)], [bandwidth * lo / 1e12, bandwidth * max(ridges) / 1e12], color="#333333", linewidth=1.4)
        for i, (peak, ridge) in enumerate(zip(peaks, ridges)):
            colour = LINE_COLOURS[i % len(LINE_COLOURS)]
            ax.plot([ridge, hi], [peak.flops / 1e12] * 2, color=colour, linewidth=1.6)
            ax.plot([ridge], [peak.flops / 1e12], marker="o", markersize=3.5, color=colour)
            ax.annotate(f"{peak.label}  {peak.flops / 1e12:.4g}", xy=(hi, peak.flops / 1e12), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8, color=colour, annotation_clip=False)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xlabel("Arithmetic intensity [FLOP/byte]")
        ax.set_ylabel("Attainable [TFLOP/s]")
        ax.set_title(f"Roofline: {name} ({bandwidth / 1e9:,.0f} GB/s memory)", loc="left")
        return self._svg()

    def compute_vs_bandwidth(self, points: list[Accelerator]) -> str:
        """Peak compute against memory bandwidth, log-log; diagonal lines are equal ridge points."""
        self._figure.set_size_inches(7.6, 5.0)
        ax = self._figure.add_axes((0.09, 0.1, 0.72, 0.82))
        for tier, colour in TIER_COLOURS.items():
            for integer, marker in ((False, "o"), (True, "^")):
                sel = [p for p in points if p.tier == tier and p.integer == integer]
                if sel:
                    ax.scatter([p.bandwidth / 1e9 for p in sel], [p.flops / 1e12 for p in sel], s=26, marker=marker,
                               color=colour, label=f"{tier}{' (INT8 TOPS)' if integer else ''}", zorder=3)
        for p in points:
            ax.annotate(p.label, xy=(p.bandwidth / 1e9, p.flops / 1e12), xytext=(4, 3), textcoords="offset points", fontsize=7, color="#333333")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Memory bandwidth [GB/s]")
        ax.set_ylabel("Dense peak [TFLOP/s, FP16/BF16; TOPS for INT8]")
        ax.set_title("Peak compute vs memory bandwidth", loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        return self._svg()

    def grid_intensity(self, bars: list[GridBar]) -> str:
        """Horizontal bars of grid carbon intensity, coloured by basis (lifecycle vs direct)."""
        bars = sorted(bars, key=lambda b: b.intensity)
        self._figure.set_size_inches(6.8, 0.9 + 0.26 * len(bars))
        ax = self._figure.add_axes((0.27, 0.7 / (0.9 + 0.26 * len(bars)), 0.63, 1 - 1.0 / (0.9 + 0.26 * len(bars))))
        y = list(range(len(bars)))
        ax.barh(y, [b.intensity for b in bars], color=[BASIS_COLOURS.get(b.basis, "#777777") for b in bars], height=0.7, zorder=3)
        ax.set_yticks(y, [b.label for b in bars])
        for i, b in enumerate(bars):
            ax.annotate(f"{b.intensity:.0f}", xy=(b.intensity, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("Carbon intensity [gCO2e/kWh]")
        ax.set_title("Grid carbon intensity by region", loc="left")
        handles = [_patch(colour, basis) for basis, colour in BASIS_COLOURS.items() if any(b.basis == basis for b in bars)]
        ax.legend(handles=handles, loc="lower right", frameon=False, fontsize=8)
        return self._svg()


def _patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)
