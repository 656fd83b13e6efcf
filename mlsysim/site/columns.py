"""The key specs each zoo table shows, per record kind: one table for both
`mlsysim zoo` (terminal) and the zoo site (HTML).

A column is either a cited value (`path`, shown in `unit`), a reference to
another record (`ref`), or plain text from the record. Units are display units
only: values are converted from SI with the project's pint registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlsysim.catalog.records import Record


@dataclass(frozen=True)
class Column:
    header: str
    path: str | None = None  # a claim path within the record: a number with its badge
    unit: str | None = None  # display unit; None shows the value as the source states it
    text: Callable[[Record], object] | None = None  # plain (uncited) text
    ref: str | None = None  # a reference field: a link to the record it names

    @property
    def numeric(self) -> bool:
        return self.path is not None

    @property
    def title(self) -> str:
        """The header with its display unit, for tables without per-cell units."""
        return f"{self.header} [{self.unit}]" if self.unit else self.header

    def shown(self, record: Record, factor: Callable[[str, str], float] | None = None) -> float | None:
        """The cited value in this column's display unit, or None when the record lacks it
        or the column shows values as stated (`unit` None).

        `factor(unit, dimension)`: 1 `unit` in the dimension's canonical unit; default
        units.to_canonical (a build passes its cache's, which remembers it across builds)."""
        claim = record.claims.get(self.path) if self.path else None
        if claim is None or self.unit is None:
            return None
        if factor is None:
            from mlsysim.catalog.units import to_canonical

            return claim["si"] / to_canonical(1.0, self.unit, claim["dimension"])
        return claim["si"] / factor(self.unit, claim["dimension"])


def short(value: float) -> str:
    """A number for a table cell: four significant digits, thousands grouped."""
    if abs(value) >= 10_000 and abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _field(name: str) -> Callable[[Record], object]:
    return lambda r: r.get(name) if r.has(name) else ""


def _valid_time(path: str) -> Callable[[Record], object]:
    return lambda r: r.field(path).valid_time or "" if r.has(path) else ""


COLUMNS: dict[str, list[Column]] = {
    "hardware": [
        Column("Vendor", text=_field("vendor")),
        Column("Year", text=_field("release_year")),
        Column("FP16", "compute.fp16", "TFLOP/s"),
        Column("BF16", "compute.bf16", "TFLOP/s"),
        Column("FP8", "compute.fp8", "TFLOP/s"),
        Column("INT8", "compute.int8", "TOPS"),
        Column("Memory", "memory.capacity", "GB"),
        Column("Bandwidth", "memory.bandwidth", "GB/s"),
        Column("TDP", "tdp", "W"),
    ],
    "models": [
        Column("Architecture", text=_field("architecture")),
        Column("Parameters", "parameters", "billion"),
        Column("Active", "active_parameters", "billion"),
        Column("Layers", "transformer.layers", ""),
        Column("Hidden", "transformer.hidden_size", ""),
        Column("Heads", "transformer.heads", ""),
        Column("KV heads", "transformer.kv_heads", ""),
        Column("Context", "transformer.context_length", ""),
        Column("Per inference", "flops_per_inference", "GFLOP"),
    ],
    "grids": [
        Column("Region", text=_field("region")),
        # One column per carbon basis, never mixed: lifecycle (Electricity Maps) and
        # direct (official statistics or the grid operator) are different quantities.
        Column("Lifecycle CO2e", "carbon_intensity_lifecycle", "gCO2e/kWh"),
        Column("Lifecycle year", text=_valid_time("carbon_intensity_lifecycle")),
        Column("Direct CO2", "carbon_intensity_direct", "gCO2e/kWh"),
        Column("Direct year", text=_valid_time("carbon_intensity_direct")),
        Column("Price", "electricity_price", "USD/kWh"),
        Column("Water", "water_intensity", "L/kWh"),
    ],
    "datacenters": [
        Column("PUE", "pue", ""),
        Column("WUE", "wue", "L/kWh"),
        Column("Grid", ref="grid"),
    ],
    "racks": [
        Column("Power", "power", "kW"),
        Column("Cooling", text=_field("cooling")),
    ],
    "nodes": [
        Column("Accelerator", ref="accelerator"),
        Column("Count", "accelerator_count", ""),
        Column("Intra-node", "intra_node_bandwidth", "GB/s"),
        Column("Inter-node", "inter_node_bandwidth", "Gbit/s"),
        Column("Power", "power", "kW"),
        Column("Cost", "unit_cost", "USD"),
    ],
    "fabrics": [
        Column("Technology", text=_field("technology")),
        Column("Link", "link_bandwidth", "Gbit/s"),
        Column("Latency", "latency", "µs"),
        Column("Oversubscription", "oversubscription", ""),
        Column("Port cost", "port_cost", "USD"),
    ],
    "clusters": [
        Column("Node", ref="node"),
        Column("Nodes", text=_field("node_count")),
        Column("Fabric", ref="fabric"),
        Column("Datacenter", ref="datacenter"),
    ],
    "assumptions": [
        Column("Value", "quantity", None),
        Column("Dimension", text=lambda r: str(r.get("dimension", "")).replace("_", " ")),
        Column("Year", text=_valid_time("quantity")),
    ],
    "scenarios": [
        Column("Application", text=_field("application")),
        Column("Mode", text=_field("mode")),
        Column("Model", ref="model"),
        Column("Hardware", ref="hardware"),
        Column("Cluster", ref="cluster"),
        Column("Latency SLA", "latency_sla", "ms"),
        Column("Power budget", "power_budget", "W"),
    ],
    "measurements": [
        Column("Category", text=_field("category")),
        Column("Metric", text=_field("metric")),
        Column("Model", ref="model"),
        Column("Hardware", ref="hardware"),
        Column("Devices", text=_field("devices")),
        Column("Measured", "measured", None),
    ],
}

# What each kind is, for page titles and the home page; the order is the site's menu.
KIND_TITLES: dict[str, tuple[str, str]] = {
    "hardware": ("Accelerators", "Peak compute per precision (dense), memory, power, interconnect and cost, by tier."),
    "models": ("Models", "Architectures, parameter counts and FLOPs per inference, by family."),
    "grids": ("Power grids", "Carbon intensity on two bases kept apart (lifecycle CO2e and direct CO2 at the plant), each with its vintage; electricity price, water."),
    "datacenters": ("Datacenters", "Facility efficiency: PUE and water use."),
    "racks": ("Racks", "Rack power envelopes and cooling."),
    "nodes": ("Nodes", "Servers: accelerators per node, intra- and inter-node bandwidth, power."),
    "fabrics": ("Fabrics", "Cluster networks: link bandwidth, latency, oversubscription."),
    "clusters": ("Clusters", "Fleet archetypes: nodes, fabric and datacenter."),
    "assumptions": ("Assumptions", "Cited modelling constants the solvers read: efficiencies, MTBF, PUE, overheads."),
    "scenarios": ("Scenarios", "Lighthouse workloads on systems under constraints, evaluated end to end by `mlsysim eval scenario NAME`."),
    "measurements": ("Measurements", "Published performance figures with their system, workload and configuration; `mlsysim validate` compares the solvers with them."),
}
