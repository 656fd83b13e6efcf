"""Measurements: one published performance figure with the system, workload and
configuration it was measured on, for `mlsysim validate`.

A measurement names its accelerator, how many of them ran, and (where the figure
needs an interconnect) the node or cluster; the model; the configuration (precision,
batch, sequence or prompt/output lengths, parallel layout, engine, concurrency); what
was measured (`metric`) and the figure itself as a cited value. References sit at the
top level, like every other kind's, so the loader checks that they exist.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlsysim.catalog.schemas.common import ATTENTION_KERNELS, STORAGE_FORMATS, ClaimSpec, RecordBase, Schema, at, ref
from mlsysim.catalog.schemas.hardware import Precision
from provenance.model import Claim

Category = Literal["training", "latency", "throughput", "under_load", "edge"]
Metric = Literal["tflops_per_gpu", "mfu", "step_time", "tokens_per_s", "decode_tokens_per_s", "ttft", "itl", "latency",
                 "samples_per_s"]

# The dimension each metric's figure is stated in (its unit is checked against it).
METRIC_DIMENSIONS: dict[str, str] = {
    "tflops_per_gpu": "compute_rate",
    "mfu": "dimensionless",
    "step_time": "time",
    "tokens_per_s": "token_rate",
    "decode_tokens_per_s": "token_rate",  # tokens generated per second while decoding (prefill excluded)
    "ttft": "time",
    "itl": "time",
    "latency": "time",
    "samples_per_s": "frequency",
}


class MeasuredLayout(Schema):
    """The parallel layout as the source states it; a field the source does not
    state is left out (the runner then reports the default it assumed)."""

    tp: int | None = Field(default=None, ge=1)
    pp: int | None = Field(default=None, ge=1)
    dp: int | None = Field(default=None, ge=1)
    cp: int | None = Field(default=None, ge=1)
    ep: int | None = Field(default=None, ge=1)
    zero: Literal[0, 1, 2, 3] | None = None
    microbatch: int | None = Field(default=None, ge=1)
    interleave: int | None = Field(default=None, ge=1)
    schedule: Literal["1f1b", "interleaved", "zb-h1", "zb-v"] | None = None
    recompute: Literal["none", "selective", "mlp_input", "full"] | None = None
    # With recompute "full": how many layers of each model chunk are recomputed (Megatron-LM's
    # block method, --recompute-num-layers); unset = every layer.
    recompute_layers: int | None = Field(default=None, ge=1)
    sequence_parallel: bool | None = None
    # Whether the data-parallel gradient all-reduce overlaps the backward pass (PyTorch DDP's
    # bucketed all-reduce does; Megatron-LM 2021's "local" DDP ran it after the backward pass).
    overlap_grad_reduce: bool | None = None
    # ZeRO-3: whether each layer's parameter all-gather is prefetched (and the gradient
    # reduce-scatter issued) on a side stream behind compute (DeepSpeed's overlap_comm).
    overlap_param_gather: bool | None = None
    # Whether the sequence-parallel all-gathers and reduce-scatters run concurrently with the
    # linear layers' GEMMs (Megatron-Core's tp_comm_overlap, Transformer Engine's userbuffers).
    tp_comm_overlap: bool | None = None
    # ZeRO-3 inside each node (TPU slice) only, one copy per node (hybrid sharding).
    shard_within_node: bool | None = None
    # How the MoE tokens reach their experts' ranks: "all_to_all" (one flat all-to-all,
    # Megatron-Core's alltoall dispatcher) or "hierarchical" (DeepEP or HybridEP: once over the
    # fabric per remote node, then over NVLink).
    ep_dispatch: Literal["all_to_all", "hierarchical"] | None = None
    # The routed experts' tensor parallelism where it differs from tp: 1 = whole experts per
    # rank, the EP ranks drawn from TP x DP x CP (Megatron-Core's expert_tensor_parallel_size 1).
    expert_tp: int | None = Field(default=None, ge=1)
    # Whether the expert all-to-alls run beside another microbatch's compute (Megatron-Core's
    # --overlap-moe-expert-parallel-comm, Megatron-Bridge's moe_a2a_overlap).
    ep_overlap: bool | None = None
    # How many layers keep their activations in host memory between the forward and the
    # backward pass (Megatron-Core's cpu_offloading_num_layers; MaxText's offloaded remat
    # policies). No solver models the transfers or the device memory they free.
    offloaded_layers: int | None = Field(default=None, ge=1)
    # Whether the gradients are held, accumulated and reduced across the data-parallel ranks in
    # fp32 rather than the training precision (Megatron-Core's grad_reduce_in_fp32, PyTorch
    # FSDP's reduce_dtype float32, DeepSpeed's bf16 optimizer).
    grad_reduce_fp32: bool | None = None
    # Whether ZeRO 1-2 sum the gradients with a full all-reduce rather than a reduce-scatter
    # before each rank updates its shard (DeepSpeed's pipeline engine with its bf16 optimizer).
    full_grad_allreduce: bool | None = None

    @model_validator(mode="after")
    def _full_allreduce_needs_sharded_optimizer(self) -> MeasuredLayout:
        if self.full_grad_allreduce and self.zero not in (1, 2):
            raise ValueError(at("full_grad_allreduce", f"it says how ZeRO 1-2 sum the gradients, but zero is "
                                f"{self.zero}; state zero: 1 or 2, or drop full_grad_allreduce"))
        return self


class MeasuredConfig(Schema):
    """How the system was run. Batch is the global batch in sequences (training) or
    requests/samples per pass (inference)."""

    precision: Precision | None = None
    weight_precision: Literal[STORAGE_FORMATS] | None = None  # type: ignore[valid-type]
    kv_precision: Literal[STORAGE_FORMATS] | None = None  # type: ignore[valid-type]
    batch_size: int | None = Field(default=None, ge=1)
    sequence_length: int | None = Field(default=None, ge=1)
    prompt_tokens: int | None = Field(default=None, ge=1)
    output_tokens: int | None = Field(default=None, ge=1)
    parallelism: MeasuredLayout | None = None
    engine: str | None = None  # framework or engine name, plain text
    engine_version: str | None = None
    concurrency: int | None = Field(default=None, ge=1)
    arrival_rate: float | None = Field(default=None, gt=0)  # requests per second offered
    ttft_limit_ms: float | None = Field(default=None, gt=0)  # P99 time-to-first-token limit the run had to meet
    tpot_limit_ms: float | None = Field(default=None, gt=0)  # P99 time-per-output-token limit the run had to meet
    # How the engine's decode attention kernel reads grouped-query K/V heads (see ServingModel).
    decode_kv_reads: Literal["per_kv_head", "per_query_head"] | None = None
    # Which statistic a latency figure under load is (mean, median, 99th percentile).
    statistic: Literal["mean", "p50", "p99"] | None = None
    scenario: str | None = None  # e.g. "MLPerf Offline", "static batch", "single stream"
    # What the measured time holds beyond the accelerator's work, as the source states it:
    # "input_pipeline" (data loading and decoding on the host), "client" (a serving client's
    # serialisation, network round trip and server queue), "tensorflow_executor" (TensorFlow
    # 1's graph executor dispatching each operator from the host, without XLA). No solver
    # prices these.
    timing_includes: list[Literal["input_pipeline", "client", "tensorflow_executor"]] | None = None
    # The front end that issued the kernels, where its host time can hold the GPU back:
    # "pytorch_eager" (one Python and dispatcher call per operator), or how it ran them where
    # that changes their fixed cost: "cuda_graph" (the pass captured once and replayed, no
    # launch from the host per kernel). Unset for compiled engines (TensorRT, XLA), whose host
    # work keeps ahead of the GPU.
    execution: Literal["pytorch_eager", "cuda_graph"] | None = None
    # The tensor layout of a CNN's convolutions, where the source states it: "nchw"
    # (PyTorch's default) or "channels_last" (NHWC). Unset: the solver's default figure.
    layout: Literal["nchw", "channels_last"] | None = None
    # Which operators the engine fuses into one kernel, where the solver models it (a CNN with a
    # described layer structure): "tensorrt" (batch norm, ReLU and the residual add run inside
    # the convolution before them, TensorRT's layer fusions). Unset: one kernel per operator.
    operator_fusion: Literal["tensorrt"] | None = None
    # The serving engine's step loop, where its host work between two GPU steps is exposed:
    # "vllm_single_step" (vLLM's V0 engine scheduling one step at a time: the scheduler, the
    # next step's input preparation and the sampled tokens' copy to the host run while the
    # GPU waits). Unset: the engine hides its host work behind the GPU.
    engine_loop: Literal["vllm_single_step"] | None = None
    # Which parts of a system-on-module did the work, where more than its GPU: "gpu_and_dla"
    # (a CNN spread over the GPU and the module's deep-learning accelerators, e.g. a Jetson
    # Orin's two DLAs in NVIDIA's MLPerf Offline runs). Unset: the GPU alone.
    device_part: Literal["gpu_and_dla"] | None = None
    # The fused-attention kernel a training run used, where its source or its configuration at
    # the cited commit says: FlashAttention-2 or -3 (CUDA) or FlashAttention written in Triton
    # (mlsysim.solvers.kernel_efficiency.ATTENTION_KERNELS). Unset: the solver's default attention figure.
    attention_kernel: Literal[ATTENTION_KERNELS] | None = None  # type: ignore[valid-type]
    # Whether the run's attention kept its scores out of memory (a fused kernel such as
    # FlashAttention). False: the scores were materialised, as Megatron-LM and
    # Megatron-DeepSpeed did before FlashAttention (a GEMM, a fused softmax, a GEMM). Unset:
    # fused.
    fused_attention: bool | None = None

    @model_validator(mode="after")
    def _one_attention(self) -> MeasuredConfig:
        if self.attention_kernel is not None and self.fused_attention is False:
            raise ValueError(at("fused_attention", f"attention_kernel {self.attention_kernel} is a fused kernel; "
                                "drop one of the two"))
        return self


class Measurement(RecordBase):
    category: Category
    hardware: ref("hardware")
    devices: int = Field(ge=1)
    node: ref("nodes") | None = None
    cluster: ref("clusters") | None = None
    fabric: ref("fabrics") | None = None
    model: ref("models")
    config: MeasuredConfig = Field(default_factory=MeasuredConfig)
    metric: Metric
    per_device: bool = False  # the figure is per device (e.g. "out tok/s/GPU"), not for the whole system
    measured: Claim
    note: str | None = None

    @model_validator(mode="after")
    def _measured_in_metric_dimension(self) -> Measurement:
        # The dimension follows the metric, so the unit check runs after both are read.
        try:
            checked = ClaimSpec(METRIC_DIMENSIONS[self.metric])(self.measured)
        except ValueError as exc:
            field = "measured.value" if str(exc).startswith("must") else "measured.unit"
            raise ValueError(at(field, f"{exc} (metric {self.metric})")) from None
        object.__setattr__(self, "measured", checked)
        if self.metric == "mfu" and checked.si > 1.0:
            raise ValueError(at("measured.value", f"an MFU of {checked.si:.0%} exceeds 100%; write it as a percent, e.g. unit: percent"))
        return self
