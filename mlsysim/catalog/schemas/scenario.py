"""Scenarios: a workload on a system under constraints, evaluated end to end.

A scenario names its model, its hardware (one device) or cluster, where it runs and
which cited assumptions it leans on (compute efficiency, device power) as references
to other records; its design choices (batch, precision, parallel layout, how long it
runs) are plain values; its constraints (latency, step time, power budget) are cited.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlsysim.catalog import defaults
from mlsysim.catalog.schemas.common import RecordBase, Schema, at, cited, ref
from mlsysim.catalog.schemas.hardware import Precision


class ParallelLayout(Schema):
    """How a training job is split (see mlsysim.solvers.distributed.Parallelism)."""

    tp: int = Field(default=1, ge=1)
    pp: int = Field(default=1, ge=1)
    cp: int = Field(default=1, ge=1)
    ep: int = Field(default=1, ge=1)
    microbatch: int = Field(default=1, ge=1)
    interleave: int = Field(default=1, ge=1)
    zero: Literal[0, 1, 2, 3] = 0
    recompute: Literal["none", "selective", "mlp_input", "full"] = "none"
    recompute_layers: int | None = Field(default=None, ge=1)  # with "full": layers recomputed per model chunk
    sequence_parallel: bool = False
    allreduce: Literal["ring", "hierarchical"] = "hierarchical"
    overlap_grad_reduce: bool = False
    overlap_param_gather: bool = False  # ZeRO-3: prefetch each layer's parameters behind compute
    shard_within_node: bool = False  # ZeRO-3 inside each node only, copies across (hybrid sharding)
    tp_comm_overlap: bool = False
    ep_dispatch: Literal["all_to_all", "hierarchical"] = "all_to_all"  # MoE tokens: flat, or DeepEP/HybridEP
    expert_tp: int | None = Field(default=None, ge=1)  # 1: whole experts per rank, EP over TP x DP x CP
    ep_overlap: bool = False  # expert all-to-alls beside another microbatch's compute


class Scenario(RecordBase):
    application: str
    mode: Literal["training", "inference"]
    model: ref("models")
    hardware: ref("hardware") | None = None
    cluster: ref("clusters") | None = None
    devices: int | None = Field(default=None, ge=1)
    grid: ref("grids") | None = None
    datacenter: ref("datacenters") | None = None
    efficiency: ref("assumptions") | None = None
    device_power: ref("assumptions") | None = None
    sleep_power: ref("assumptions") | None = None
    precision: Precision = defaults.PRECISION  # unset: as `mlsysim eval` and plans (mlsysim/catalog/defaults.py)
    batch_size: int = Field(default=defaults.BATCH_SIZE, ge=1)
    sequence_length: int | None = Field(default=None, ge=1)
    parallelism: ParallelLayout | None = None  # None or "auto": the fastest layout that fits
    duration_days: float | None = Field(default=None, gt=0)
    inferences_per_second: float | None = Field(default=None, gt=0)
    latency_sla: cited("time") | None = None
    step_time_sla: cited("time") | None = None
    power_budget: cited("power") | None = None

    _auto_layout = field_validator("parallelism", mode="before")(lambda v: None if v == "auto" else v)

    @model_validator(mode="after")
    def _system_matches_mode(self) -> Scenario:
        if self.hardware is not None and self.cluster is not None:
            raise ValueError(at("cluster", "give either 'hardware' (one device) or 'cluster', not both"))
        if self.mode == "training" and self.cluster is None:
            raise ValueError(at("mode", "a training scenario needs 'cluster: <cluster id>'"))
        if self.mode == "inference" and self.hardware is None:
            raise ValueError(at("mode", "an inference scenario needs 'hardware: <hardware id>'"))
        return self
