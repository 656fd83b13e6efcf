"""Accelerators: peak compute per precision (dense), memory, power, interconnect, cost."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from mlsysim.catalog.schemas.common import PRECISIONS, RecordBase, Schema, at, cited

Tier = Literal["cloud", "workstation", "mobile", "edge", "tiny"]
Precision = Literal[PRECISIONS]  # type: ignore[valid-type]

ComputeRate = cited("compute_rate")

# What a `compute_units` count counts: NVIDIA streaming multiprocessors, AMD compute units.
UNIT_KINDS = ("SM", "CU")


class Memory(Schema):
    capacity: cited("information") | None = None
    # What software can allocate, where a primary or measured source states it (e.g. the
    # total nvidia-smi reports), as opposed to the marketed capacity above. Solvers check
    # fits against this figure when present, else `capacity`, and say which
    # (mlsysim.solvers.terms.memory_capacity).
    capacity_usable: cited("information") | None = None
    bandwidth: cited("bandwidth") | None = None
    # The last-level on-chip cache every compute unit shares (NVIDIA's L2; on AMD Instinct,
    # the Infinity Cache in front of HBM), in bytes. A
    # kernel whose working set fits in it keeps its activations on chip (a CNN's:
    # mlsysim.solvers.convolution.layer_roofline_time; a transformer's:
    # mlsysim.solvers.pass_overheads.activation_traffic); without it all traffic is priced at `bandwidth`.
    l2_cache: cited("information") | None = None


class Interconnect(Schema):
    name: str | None = None
    bandwidth: cited("bandwidth", qualifiers=("direction",))


class Hardware(RecordBase):
    """One accelerator. `compute` holds dense peaks; vendor figures quoted
    "with sparsity" belong in `compute_sparse`."""

    tier: Tier
    vendor: str
    release_year: int
    # "announced": figures are the vendor's pre-release announcement, not a shipped
    # part's datasheet (release_year is then the announced availability year).
    status: Literal["announced"] | None = None
    compute: dict[Precision, ComputeRate] = {}
    compute_sparse: dict[Precision, ComputeRate] | None = None
    # Dense peaks of fixed-function deep-learning accelerators beside the GPU on the same
    # module (the two NVDLA cores of a Jetson Orin). They run CNN layers only (convolution,
    # pooling, activation, batch norm, fully connected), so `compute` keeps the GPU's peaks,
    # what every workload can use; Engine.solve adds these when a CNN is spread over both (dla=True).
    compute_dla: dict[Precision, ComputeRate] | None = None
    compute_dla_sparse: dict[Precision, ComputeRate] | None = None  # the DLAs' figures quoted "with sparsity"
    memory: Memory | None = None
    tdp: cited("power") | None = None
    interconnect: Interconnect | None = None
    unit_cost: cited("currency") | None = None
    cloud_price: cited("price_per_hour") | None = None  # on-demand rental per accelerator-hour
    # Parallel compute units a kernel's thread blocks are spread over (a plain count):
    # NVIDIA streaming multiprocessors, AMD compute units. `qualifiers.unit_kind` says
    # which (SM, CU); the GEMM wave-quantization term (solvers/gemm_waves.py) reads it.
    compute_units: cited("dimensionless") | None = None

    @model_validator(mode="after")
    def _sparsity_matches_table(self) -> Hardware:
        for table, expected in (("compute", "dense"), ("compute_sparse", "sparse"), ("compute_dla", "dense"),
                                ("compute_dla_sparse", "sparse")):
            for precision, claim in (getattr(self, table) or {}).items():
                stated = claim.qualifiers.get("sparsity")
                if stated is not None and stated != expected:
                    other = {"compute": "compute_sparse", "compute_sparse": "compute",
                             "compute_dla": "compute_dla_sparse", "compute_dla_sparse": "compute_dla"}[table]
                    raise ValueError(at(
                        f"{table}.{precision}.qualifiers.sparsity",
                        f"a {stated} figure in '{table}', which holds {expected} figures; move it to '{other}'",
                    ))
        return self

    @model_validator(mode="after")
    def _compute_units_kind(self) -> Hardware:
        units = self.compute_units
        if units is None:
            return self
        kind = units.qualifiers.get("unit_kind")
        if kind not in UNIT_KINDS:
            raise ValueError(at("compute_units.qualifiers", f"needs unit_kind: one of {', '.join(UNIT_KINDS)} (what the count counts), got {kind!r}"))
        if units.value != int(units.value):
            raise ValueError(at("compute_units.value", f"a count of {kind}s must be a whole number, got {units.value:g}"))
        return self
