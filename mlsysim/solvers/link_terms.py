"""How collectives use a link: the cited fraction of its line rate NCCL's collectives reach
inside a node and across the fabric, and the fixed latency of a tensor-parallel all-reduce.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlsysim.catalog.records import Record
from mlsysim.lineage import Lineage
from mlsysim.solvers.terms import (
    FixedOverhead,
    NO_OVERHEAD,
    applies_to,
    cited_assumption,
    measured_for,
    qualified_assumptions,
)


ALLREDUCE_BASE_LATENCY = "nccl_allreduce_base_latency"
ALLREDUCE_STEP_LATENCY = "nccl_nvlink_step_latency"


@dataclass(frozen=True)
class LinkEfficiencies:
    """Achieved fractions [1] of the line rate that collectives reach inside a node
    (`intra`) and across the fabric (`inter`), 1.0 where no cited figure applies, with the
    lineage of the cited values used."""

    intra: float
    inter: float
    lineage: Lineage


def collective_efficiencies(hw: Record, fabric: Record | None = None) -> LinkEfficiencies:
    """The cited bus-bandwidth efficiency of collectives (assumption records with a
    `collective` qualifier, e.g. nccl_allreduce_bus_efficiency_*) on accelerator `hw`'s
    node link and, when given, across `fabric`: inside the node the record that
    `terms.applies_to` the accelerator (vendor, hardware ids, link named in its interconnect);
    across nodes the record of the accelerator's vendor whose `link` is named in the
    fabric's technology (e.g. InfiniBand). 1.0 (line rate, an optimistic bound) where the
    catalog cites none. The first matching record by id wins. Memoised per (accelerator,
    fabric) in their catalog.

    References
    ----------
    NCCL tests documentation, "Performance" (bus bandwidth: the per-link rate a collective
    reaches, comparable to the hardware's peak).
    """
    memo = hw._catalog.derived("collective_efficiencies")
    key = (hw._data["id"], fabric._data["id"] if fabric is not None else None)
    hit = memo.get(key)
    if hit is not None:
        return hit
    records = qualified_assumptions(hw._catalog, "collective")
    lineage = Lineage()
    intra = next((v for v in records if applies_to(v, hw)), None)
    technology = str(fabric.get("technology", "")).lower() if fabric is not None else ""
    vendor = str(hw.get("vendor", "")).lower()
    inter = next((v for v in records if technology and str(v.qualifiers.get("link", "")).lower() in technology
                  and str(v.qualifiers.get("vendor", "")).lower() == vendor), None)
    result = LinkEfficiencies(lineage.use(intra) if intra is not None else 1.0,
                              lineage.use(inter) if inter is not None else 1.0, lineage)
    memo[key] = result
    return result


def allreduce_latency(hw: Record, devices: int) -> FixedOverhead:
    """Fixed latency of one all-reduce over `devices` GPUs [s]. In NCCL's own latency model,
    base latency + 2 (devices - 1) ring steps x the per-step latency of the link
    (catalog/assumptions/nccl_allreduce_base_latency.yaml, nccl_nvlink_step_latency.yaml),
    when those figures apply to the accelerator `hw` (`terms.applies_to`: NVIDIA, NVLink); else
    the measured small-message all-reduce time of a record that applies to `hw` at this
    many ranks (qualifiers `collective_latency: all_reduce` and `ranks`, e.g.
    rccl_allreduce_latency_mi300x_8gpu); else zero. Zero for one device. Memoised per
    (accelerator, devices) in their catalog."""
    if devices <= 1:
        return NO_OVERHEAD
    catalog = hw._catalog
    memo = catalog.derived("allreduce_latency")
    key = (hw._data["id"], devices)
    result = memo.get(key)
    if result is None:
        result = memo[key] = _read_allreduce_latency(hw, devices)
    return result


def _read_allreduce_latency(hw: Record, devices: int) -> FixedOverhead:
    catalog = hw._catalog
    base = cited_assumption(catalog, ALLREDUCE_BASE_LATENCY, "the fixed latency of tensor-parallel all-reduces")
    step = cited_assumption(catalog, ALLREDUCE_STEP_LATENCY, "the fixed latency of tensor-parallel all-reduces")
    lineage = Lineage()
    if applies_to(base, hw) and applies_to(step, hw):
        return FixedOverhead(lineage.use(base) + 2.0 * (devices - 1) * lineage.use(step), lineage)
    measured = next((v for v in qualified_assumptions(catalog, "collective_latency")
                     if v.qualifiers["collective_latency"] == "all_reduce" and str(v.qualifiers.get("ranks")) == str(devices)
                     and applies_to(v, hw)), None)
    if measured is None:
        return FixedOverhead(0.0, lineage, f"all-reduce latency: NCCL's latency model ({ALLREDUCE_BASE_LATENCY}) is "
                                           f"for {measured_for(base)}, and no measured all-reduce time is cited for "
                                           f"{hw.label} at {devices} ranks")
    return FixedOverhead(lineage.use(measured), lineage)
