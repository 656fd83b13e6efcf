"""Roofline plots (needs the optional extra: pip install 'mlsysim[plots]')."""

from __future__ import annotations

from typing import Any

from mlsysim.errors import MlsysimError
from mlsysim.catalog.records import Record


def plot_roofline(hardware: Record | str, workloads: list[Any] = (), precision: str = "fp16",
                  efficiency: float | None = None, ax: Any = None) -> Any:
    """A log-log roofline of `hardware` at `precision` with each workload's operating point.

    `workloads` holds PerformanceProfile results of Engine.solve on this hardware and
    precision, or model records (solved at batch 1). Drawn: the peak roof
    (min(peak, bandwidth x intensity)), the attainable roof with the cited
    efficiencies (dashed), the ridge point, and each workload at (arithmetic
    intensity [FLOP/B], achieved FLOP/s). Returns `(fig, ax)`, as the reference simulator does.

    References
    ----------
    Williams, Waterman & Patterson 2009, "Roofline", doi:10.1145/1498765.1498785.
    """
    try:
        # The object-oriented Figure, not pyplot: no global backend or figure state is touched.
        from matplotlib.figure import Figure
    except ImportError:
        raise MlsysimError("plot_roofline needs matplotlib: pip install 'mlsysim[plots]'") from None
    import numpy as np

    from mlsysim.solvers.engine import Engine, PerformanceProfile
    from mlsysim.solvers.roofline import ridge_point
    from mlsysim.solvers.terms import efficiencies, hardware_terms

    h = hardware_terms(hardware, precision)
    points = []
    for w in workloads:
        p = w if isinstance(w, PerformanceProfile) else Engine.solve(w, hardware, precision=h.precision, efficiency=efficiency)
        if p.hardware != h.name or p.precision != h.precision:
            raise MlsysimError(f"workload {p.model} was solved on {p.hardware} at {p.precision}, not {h.name} at {h.precision}")
        points.append(p)
    # The attainable roof: the efficiencies the points were priced at when they share them
    # (a transformer pass: the GEMM and memory records cited for this accelerator and
    # precision, kernel_efficiency.pass_efficiencies), else the generic cited pair.
    used = {(p.compute_efficiency, p.memory_efficiency) for p in points}
    eff = efficiencies(h.catalog, efficiency)
    compute_eff, memory_eff = used.pop() if len(used) == 1 else (eff.compute, eff.memory)

    ridge = ridge_point(h.peak, h.bandwidth)
    intensities = [p.si["arithmetic_intensity"] for p in points]
    low = min([ridge / 100.0, *intensities]) / 2.0
    high = max([ridge * 100.0, *intensities]) * 2.0
    x = np.logspace(np.log10(low), np.log10(high), 400)
    if ax is None:
        fig = Figure(figsize=(7, 4.5))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.loglog(x, np.minimum(h.peak, h.bandwidth * x), color="black", label=f"{h.name} {h.precision} peak")
    ax.loglog(x, np.minimum(h.peak * compute_eff, h.bandwidth * memory_eff * x), color="black", linestyle="--",
              label=f"attainable (compute {compute_eff:.0%}, memory {memory_eff:.0%})")
    ax.axvline(ridge, color="grey", linestyle=":", linewidth=1)
    ax.plot([ridge], [h.peak], marker="o", color="grey")
    ax.annotate(f"ridge {ridge:.3g} FLOP/B", (ridge, h.peak), textcoords="offset points", xytext=(6, -14), fontsize=8)
    for p in points:
        achieved = p.si["flops"] / p.si["latency"]
        label = f"{p.model} b{p.batch_size}" + (f" s{p.seq_len}" if p.seq_len > 1 else "") + f" ({p.bottleneck.lower()})"
        ax.plot([p.si["arithmetic_intensity"]], [achieved], marker="s", linestyle="none", label=label)
    ax.set_xlabel("arithmetic intensity [FLOP/B]")
    ax.set_ylabel("performance [FLOP/s]")
    ax.set_title(f"Roofline: {h.name} ({h.precision})")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="both", alpha=0.2)
    fig.tight_layout()
    return fig, ax
