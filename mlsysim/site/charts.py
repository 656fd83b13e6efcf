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
    flops: float  # [FLOP/s] dense peak in `basis`
    bandwidth: float  # [byte/s]
    basis: str = "16-bit float"  # "16-bit float" (BF16 or FP16), "INT8" or "FP32"


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
            # A fixed title position skips matplotlib's tight-bbox search over every tick label.
            "axes.titley": 1.02,
            "xtick.minor.visible": False,
            "ytick.minor.visible": False,
        })
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

        # Plain tick labels ("100", "1k") instead of mathtext ($10^{2}$), which is slow to lay out.
        self._log_format = FuncFormatter(lambda v, _: _tick(v))
        self._log_locator = lambda: LogLocator(base=10, numticks=8)
        self._null = NullLocator
        self._figure = Figure(figsize=(6.4, 3.6))
        self._canvas = FigureCanvasSVG(self._figure)
        # Rooflines (one per accelerator) share a figure whose axes, ticks and labels
        # are built once; each chart only swaps its lines and texts.
        self._roof_figure = Figure(figsize=(6.8, 3.6))
        FigureCanvasSVG(self._roof_figure)
        self._roof_ax = self._roof_figure.add_axes((0.1, 0.14, 0.6, 0.76))
        self._log_axes(self._roof_ax)
        self._roof_ax.set_xlabel("Arithmetic intensity [FLOP/byte]")
        self._roof_ax.set_ylabel("Attainable [TFLOP/s, or TOPS]")

    def _svg(self, figure: Any = None) -> str:
        buffer = io.StringIO()
        (figure or self._figure).savefig(buffer, format="svg", metadata={"Date": None, "Creator": "mlsysim"})
        if figure is None:
            self._figure.clear()
        return buffer.getvalue()

    def _log_axes(self, ax: Any) -> None:
        for axis, scale in ((ax.xaxis, ax.set_xscale), (ax.yaxis, ax.set_yscale)):
            scale("log")
            axis.set_major_locator(self._log_locator())
            axis.set_minor_locator(self._null())
            axis.set_major_formatter(self._log_format)

    def roofline(self, name: str, peaks: list[Peak], bandwidth: float) -> str:
        """Attainable performance = min(peak, bandwidth x intensity), one roof per precision
        (Williams, Waterman & Patterson 2009, "Roofline", CACM 52(4)).

        peaks [FLOP/s], bandwidth [byte/s]; axes in FLOP/byte and TFLOP/s.
        """
        ax = self._roof_ax
        for artist in [*ax.lines, *ax.texts]:
            artist.remove()
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
        ax.relim()
        ax.autoscale_view(scalex=False)
        ax.set_xlim(lo, hi)
        ax.set_title(f"Roofline: {name} ({bandwidth / 1e9:,.0f} GB/s memory)", loc="left")
        return self._svg(self._roof_figure)

    def compute_vs_bandwidth(self, points: list[Accelerator]) -> str:
        """Dense peak compute [FLOP/s] against memory bandwidth [byte/s], log-log, one marker per precision basis."""
        self._figure.set_size_inches(8.0, 5.4)
        ax = self._figure.add_axes((0.09, 0.1, 0.7, 0.82))
        markers = {"16-bit float": "o", "INT8": "^", "FP32": "s"}
        for tier, colour in TIER_COLOURS.items():
            for basis, marker in markers.items():
                sel = [p for p in points if p.tier == tier and p.basis == basis]
                if sel:
                    ax.scatter([p.bandwidth / 1e9 for p in sel], [p.flops / 1e12 for p in sel], s=26, marker=marker,
                               color=colour, label=f"{tier}, {basis}", zorder=3)
        self._log_axes(ax)
        ax.margins(0.08)
        ax.autoscale_view()
        _place_labels(ax, [(p.label, p.bandwidth / 1e9, p.flops / 1e12) for p in points])
        ax.set_xlabel("Memory bandwidth [GB/s]")
        ax.set_ylabel("Dense peak [TFLOP/s, or TOPS for INT8]")
        ax.set_title("Peak compute vs memory bandwidth", loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        return self._svg()

    def grid_intensity(self, bars: list[GridBar]) -> str:
        """Horizontal bars of grid carbon intensity, coloured by basis (lifecycle vs direct)."""
        bars = sorted(bars, key=lambda b: b.intensity)
        height = 0.9 + 0.26 * len(bars)
        width = 7.2
        left = (0.25 + 0.075 * max(len(b.label) for b in bars)) / width  # room for the longest label at 9 pt
        self._figure.set_size_inches(width, height)
        ax = self._figure.add_axes((left, 0.6 / height, 0.93 - left, 1 - 0.95 / height))
        y = list(range(len(bars)))
        ax.barh(y, [b.intensity for b in bars], color=[BASIS_COLOURS.get(b.basis, "#777777") for b in bars], height=0.7, zorder=3)
        ax.set_yticks(y, [b.label for b in bars])
        for i, b in enumerate(bars):
            ax.annotate(f"{b.intensity:.3g}", xy=(b.intensity, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("Carbon intensity [gCO2e/kWh]")
        ax.set_title("Grid carbon intensity by region", loc="left")
        handles = [_patch(colour, basis) for basis, colour in BASIS_COLOURS.items() if any(b.basis == basis for b in bars)]
        ax.legend(handles=handles, loc="lower right", frameon=False, fontsize=8)
        return self._svg()


def _place_labels(ax: Any, labels: list[tuple[str, float, float]], fontsize: float = 7) -> None:
    """Label scatter points, trying a few offsets per label so labels do not overlap (greedy)."""
    offsets = [(4, 3, "left"), (-4, 3, "right"), (4, -10, "left"), (-4, -10, "right"),
               (10, 14, "left"), (-10, 14, "right"), (10, -22, "left"), (-10, -22, "right")]
    pt = ax.figure.dpi / 72  # display pixels per typographic point
    to_display = ax.transData.transform
    # Points are obstacles too, so a label never covers another marker.
    taken = [(px / pt - 3, py / pt - 3, px / pt + 3, py / pt + 3) for px, py in (to_display((x, y)) for _, x, y in labels)]
    for text, x, y in sorted(labels, key=lambda item: (-item[2], item[1])):
        px, py = to_display((x, y)) / pt
        width, height = 0.55 * fontsize * len(text), fontsize
        for dx, dy, align in offsets:
            left = px + dx - (width if align == "right" else 0)
            box = (left, py + dy, left + width, py + dy + height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in taken):
                break
        taken.append(box)
        # Labels pushed further away get a thin leader line back to their point.
        leader = {"arrowstyle": "-", "linewidth": 0.5, "color": "#888888", "shrinkA": 0, "shrinkB": 2} if abs(dy) > 10 else None
        ax.annotate(text, xy=(x, y), xytext=(dx, dy), textcoords="offset points", ha=align, fontsize=fontsize,
                    color="#333333", arrowprops=leader)


def _tick(value: float) -> str:
    """A log-axis tick label: 0.01, 0.1, 1, 10, 100, 1k, 10k, 1M."""
    for suffix, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)
