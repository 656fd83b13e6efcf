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
            # Labels are catalog text: a "$" in a name is a dollar sign, never mathtext.
            "text.parse_math": False,
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
        self._measure: Any = None
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
        ax.relim()
        ax.autoscale_view(scalex=False)
        ax.set_xlim(lo, hi)
        # Roof labels to the right of the plot, pushed apart so that close peaks never overlap.
        pt = ax.figure.dpi / 72
        ys = [ax.transData.transform((hi, p.flops / 1e12))[1] / pt for p in peaks]
        shifted = _spread(ys, 10.0)
        for i, (peak, y, y2) in enumerate(zip(peaks, ys, shifted)):
            colour = LINE_COLOURS[i % len(LINE_COLOURS)]
            ax.annotate(f"{peak.label}  {_value(peak.flops / 1e12)}", xy=(hi, peak.flops / 1e12), xytext=(4, y2 - y),
                        textcoords="offset points", va="center", fontsize=8, color=colour, annotation_clip=False)
        ax.set_title(f"Roofline: {name} ({_value(bandwidth / 1e9)} GB/s memory)", loc="left")
        return self._svg(self._roof_figure)

    def compute_vs_bandwidth(self, points: list[Accelerator]) -> str:
        """Dense peak compute [FLOP/s] against memory bandwidth [byte/s], log-log, one marker per precision basis.

        Points more than a decade beyond all others (a wafer-scale engine among GPUs)
        are drawn in an inset beside the main plot, so they do not squeeze the rest
        into a corner; labels are placed greedily so that none overlaps another label
        or a marker, and the legend sits outside the data.
        """
        self._figure.set_size_inches(8.6, 5.6)
        main, outliers = _split_outliers(points)
        ax = self._figure.add_axes((0.085, 0.1, 0.64, 0.82))
        self._scatter(ax, main)
        self._log_axes(ax)
        ax.margins(0.06)
        ax.autoscale_view()
        ax.set_xlabel("Memory bandwidth [GB/s]")
        ax.set_ylabel("Dense peak [TFLOP/s, or TOPS for INT8]")
        ax.set_title("Peak compute vs memory bandwidth", loc="left")
        _place_labels(ax, [(p.label, p.bandwidth / 1e9, p.flops / 1e12) for p in main], self._text_width)
        handles, labels = ax.get_legend_handles_labels()
        if outliers:
            inset = self._figure.add_axes((0.80, 0.1, 0.17, 0.3))
            self._scatter(inset, outliers)
            self._log_axes(inset)
            xs = [p.bandwidth / 1e9 for p in outliers]
            ys = [p.flops / 1e12 for p in outliers]
            inset.set_xlim(min(xs) / 6, max(xs) * 6)
            inset.set_ylim(min(ys) / 6, max(ys) * 6)
            inset.tick_params(labelsize=7)
            inset.set_title("Off the main scale", loc="left", fontsize=8, fontweight="normal")
            _place_labels(inset, [(p.label, p.bandwidth / 1e9, p.flops / 1e12) for p in outliers], self._text_width)
            for h, l in zip(*inset.get_legend_handles_labels()):
                if l not in labels:
                    handles.append(h)
                    labels.append(l)
        self._figure.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.79, 0.93), frameon=False, fontsize=8)
        return self._svg()

    def _scatter(self, ax: Any, points: list[Accelerator]) -> None:
        markers = {"16-bit float": "o", "INT8": "^", "FP32": "s"}
        for tier, colour in TIER_COLOURS.items():
            for basis, marker in markers.items():
                sel = [p for p in points if p.tier == tier and p.basis == basis]
                if sel:
                    ax.scatter([p.bandwidth / 1e9 for p in sel], [p.flops / 1e12 for p in sel], s=26, marker=marker,
                               color=colour, label=f"{tier}, {basis}", zorder=3)

    def _text_width(self, text: str, fontsize: float) -> tuple[float, float]:
        """Width and height [pt] of `text` in the charts' font, measured as the SVG viewer will draw it
        (matplotlib's own metrics of DejaVu Sans, the first font the SVG names)."""
        if self._measure is None:
            from matplotlib.backends.backend_agg import RendererAgg

            self._measure = RendererAgg(100, 100, 72)
        from matplotlib.font_manager import FontProperties

        width, height, _ = self._measure.get_text_width_height_descent(text, FontProperties(size=fontsize), ismath=False)
        return width, height

    def grid_intensity(self, bars: list[GridBar]) -> str:
        """Horizontal bars of grid carbon intensity, coloured by basis (lifecycle vs direct)."""
        bars = sorted(bars, key=lambda b: b.intensity)
        height = 1.1 + 0.26 * len(bars)
        width = 8.0
        longest = max(self._text_width(b.label, 9)[0] for b in bars) / 72  # [inch] at 9 pt
        left = min(0.3 + longest, width * 0.55) / width  # room for the longest region name
        self._figure.set_size_inches(width, height)
        ax = self._figure.add_axes((left, 0.6 / height, 0.92 - left, 1 - 1.05 / height))
        y = list(range(len(bars)))
        ax.barh(y, [b.intensity for b in bars], color=[BASIS_COLOURS.get(b.basis, "#777777") for b in bars], height=0.7, zorder=3)
        ax.set_yticks(y, [b.label for b in bars])
        for i, b in enumerate(bars):
            ax.annotate(_value(b.intensity, 3), xy=(b.intensity, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("Carbon intensity [gCO2e/kWh]")
        self._figure.text(0.01, 1 - 0.12 / height, "Grid carbon intensity by region", va="top", ha="left",
                          fontsize=10, fontweight="bold")
        handles = [_patch(colour, basis) for basis, colour in BASIS_COLOURS.items() if any(b.basis == basis for b in bars)]
        # Outside the bars: the empty corner under the region names.
        self._figure.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.01, 0.0), frameon=False, fontsize=8, ncol=2, title="Basis", title_fontsize=8)
        return self._svg()


def draw_batch(jobs: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
    """The SVG of each (ChartMaker method name, arguments) job, drawn with one ChartMaker."""
    maker = ChartMaker()
    kinds = {"roofline": maker.roofline, "compute_vs_bandwidth": maker.compute_vs_bandwidth, "grid_intensity": maker.grid_intensity}
    return [kinds[kind](*args) for kind, args in jobs]


def _worker() -> None:
    """`python -m mlsysim.site.charts`: the site build's chart worker. Reads the pickled
    jobs of `draw_batch` from stdin and writes the pickled SVGs to stdout (a pipe between
    the build and the process it started, nothing else)."""
    import pickle
    import sys

    jobs = pickle.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(pickle.dumps(draw_batch(jobs)))


def _split_outliers(points: list[Accelerator], gap: float = 1.0) -> tuple[list[Accelerator], list[Accelerator]]:
    """Points beyond a gap of more than `gap` decades at the top of either axis, apart from the rest.

    At most a quarter of the points (and never all) can be outliers.
    """
    out: set[int] = set()
    for key in (lambda p: p.bandwidth, lambda p: p.flops):
        order = sorted(range(len(points)), key=lambda i: key(points[i]))
        for cut in range(len(order) - 1, max(len(order) - 1 - len(points) // 4, 0), -1):
            lower, upper = key(points[order[cut - 1]]), key(points[order[cut]])
            if lower > 0 and math.log10(upper / lower) > gap:
                out.update(order[cut:])
                break
    return [p for i, p in enumerate(points) if i not in out], [p for i, p in enumerate(points) if i in out]


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_labels(ax: Any, labels: list[tuple[str, float, float]], measure: Any, fontsize: float = 7) -> None:
    """Label scatter points so that no label overlaps another label or any marker and every
    label stays inside the axes (greedy: for each point, nearest free spot on rings of growing radius)."""
    pt = ax.figure.dpi / 72  # display pixels per typographic point
    to_display = ax.transData.transform
    x0, y0, x1, y1 = (v / pt for v in ax.bbox.extents)
    pad = 1.0
    taken = [(px / pt - 3.5, py / pt - 3.5, px / pt + 3.5, py / pt + 3.5) for px, py in (to_display((x, y)) for _, x, y in labels)]
    rings = [(r, a) for r in (5, 11, 18, 26, 36, 48, 62) for a in (30, 150, -30, -150, 90, -90, 0, 180, 60, 120, -60, -120)]
    for text, x, y in sorted(labels, key=lambda item: (-item[2], item[1])):
        px, py = to_display((x, y)) / pt
        width, _ = measure(text, fontsize)
        # A browser's box for SVG text spans the font's full ascent and descent (about 1.17 em for
        # DejaVu Sans), taller than the ink; leave that and a little rounding room.
        width, height = width * 1.06 + pad, fontsize * 1.3 + pad
        choice = None
        for radius, angle in rings:
            dx, dy = radius * math.cos(math.radians(angle)), radius * math.sin(math.radians(angle))
            align = "left" if dx > 0.5 else "right" if dx < -0.5 else "center"
            left = px + dx - (width if align == "right" else width / 2 if align == "center" else 0)
            bottom = py + dy - height / 2
            box = (left, bottom, left + width, bottom + height)
            if box[0] < x0 or box[2] > x1 or box[1] < y0 or box[3] > y1:
                continue
            if not any(_overlaps(box, b) for b in taken):
                choice = (dx, dy, align, box, radius)
                break
        if choice is None:  # crowded beyond every ring: skip the label rather than cover another
            continue
        dx, dy, align, box, radius = choice
        taken.append(box)
        # Labels pushed further away get a thin leader line back to their point.
        leader = {"arrowstyle": "-", "linewidth": 0.5, "color": "#888888", "shrinkA": 0, "shrinkB": 3} if radius > 11 else None
        ax.annotate(text, xy=(x, y), xytext=(dx, dy), textcoords="offset points", ha=align, va="center",
                    fontsize=fontsize, color="#333333", arrowprops=leader)


def _spread(ys: list[float], gap: float) -> list[float]:
    """Positions [pt] moved apart (upwards) so that neighbours are at least `gap` apart (labels beside lines)."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    for prev, cur in zip(order, order[1:]):
        out[cur] = max(out[cur], out[prev] + gap)
    return out


def _value(value: float, digits: int = 4) -> str:
    """A chart label number: grouped digits, four significant figures, never an exponent."""
    from mlsysim.catalog.display import format_number

    return format_number(value, digits)


def _tick(value: float) -> str:
    """A log-axis tick label: 0.01, 0.1, 1, 10, 100, 1k, 10k, 1M."""
    for suffix, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


if __name__ == "__main__":
    _worker()
