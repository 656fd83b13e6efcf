"""`mlsysim validate`: every published measurement in `catalog/measurements/` run
through the solvers, with the signed error of each prediction.

    >>> from mlsysim.catalog import default_catalog
    >>> report = validate(default_catalog())
    >>> report.summary()["overall"]["median_abs_error"]   # doctest: +SKIP

Each measurement record names its system, model and configuration; one small function
per category turns it into a call of the public solver entry points (`Engine.solve`,
`ServingModel`, `DistributedModel`) and reads off the measured metric. Signed error =
predicted / measured - 1. A row the solvers cannot express as stated (no queueing model
for serving under load, an expert-parallel layout, a prompt length the source does not
give, a model without an architecture) is reported `not expressible` with the reason and
left out of the error statistics; nothing is approximated silently. Where a field the
solver needs is not stated by the source and the solver has a default for it (e.g. the
pipeline microbatch), the result lists the default under `assumed`.

Nothing here is fitted to the measurements: every solver constant comes from
`catalog/assumptions/` as the solvers read it, and training runs in first-principles
mode with the cited kernel compute efficiency (`TRAINING_EFFICIENCY`).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

from mlsysim.catalog.display import format_number
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError

CATEGORIES = ("training", "latency", "throughput", "under_load", "edge")

# The cited kernel-level dense-GEMM efficiency DistributedModel runs on in first-principles
# mode (every system overhead modelled on top), never an end-to-end MFU measured on one of
# the rows being validated.
TRAINING_EFFICIENCY = "gemm_compute_efficiency"
# The cited host time per operator of each front end a measurement states it ran in (config
# `execution`), for models whose operators Engine.solve counts (CNNs): a record measured on the
# row's machine where one applies (qualifiers kernel: host_dispatch, execution, hardware),
# else this one.
HOST_DISPATCH = {"pytorch_eager": "host_dispatch_pytorch_eager_cnn"}
# The execution that replays each pass as a captured CUDA graph (no host dispatch or launch).
CUDA_GRAPH = "cuda_graph"
# The cited host time of each step loop a measurement states its engine ran (config
# `engine_loop`), paid by every prefill pass and decode step: per iteration, and per
# running request per iteration.
ENGINE_LOOP_OVERHEAD = {"vllm_single_step": ("vLLM's single-step loop", "serving_iteration_overhead_vllm",
                                             "serving_request_overhead_vllm")}

# Display unit of each metric, and the factor from SI to it.
METRIC_DISPLAY: dict[str, tuple[str, float]] = {
    "tflops_per_gpu": ("TFLOP/s", 1e-12),
    "mfu": ("%", 100.0),
    "step_time": ("s", 1.0),
    "tokens_per_s": ("tok/s", 1.0),
    "decode_tokens_per_s": ("tok/s", 1.0),
    "ttft": ("ms", 1e3),
    "itl": ("ms", 1e3),
    "latency": ("ms", 1e3),
    "samples_per_s": ("1/s", 1.0),
}

# Metrics that add up over devices (a system's tokens/s); the others are per device or per request.
EXTENSIVE = frozenset({"tokens_per_s", "decode_tokens_per_s", "samples_per_s"})

OK = "ok"
NOT_EXPRESSIBLE = "not expressible"


class NotExpressible(Exception):
    """The solvers cannot express this measurement as stated; the message says why."""


@dataclass(frozen=True)
class ValidationResult:
    """One measurement against its prediction. `measured` and `predicted` are in SI
    units (`display_unit` / `scale` convert them for people); `error` is
    predicted / measured - 1, None when the row is not expressible."""

    id: str
    name: str
    category: str
    metric: str
    model: str
    hardware: str
    devices: int
    measured: float
    predicted: float | None
    status: str
    reason: str | None = None
    assumed: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()
    source: str = ""
    locator: str | None = None
    as_stated: str | None = None
    note: str | None = None

    @property
    def error(self) -> float | None:
        if self.predicted is None:
            return None
        return self.predicted / self.measured - 1.0

    @property
    def explanation(self) -> str:
        """Why it is not expressible, else its remarks and what was assumed."""
        return self.reason or "; ".join([*self.remarks, *(f"assumed {a}" for a in self.assumed)])

    @property
    def display_unit(self) -> str:
        return METRIC_DISPLAY[self.metric][0]

    @property
    def scale(self) -> float:
        return METRIC_DISPLAY[self.metric][1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "category": self.category, "metric": self.metric,
            "model": self.model, "hardware": self.hardware, "devices": self.devices,
            "unit": self.display_unit,
            "measured": self.measured * self.scale,
            "predicted": None if self.predicted is None else self.predicted * self.scale,
            "error": self.error, "status": self.status, "reason": self.reason,
            "assumed": list(self.assumed), "remarks": list(self.remarks),
            "source": self.source, "locator": self.locator, "as_stated": self.as_stated, "note": self.note,
        }


@dataclass(frozen=True)
class ValidationReport:
    """Every result, in record order (category, then id), and the catalog it came from."""

    results: tuple[ValidationResult, ...]
    catalog_root: str = ""

    def summary(self) -> dict[str, dict[str, Any]]:
        """Statistics per category present and overall: see `summarize`."""
        out = {c: summarize([r for r in self.results if r.category == c]) for c in CATEGORIES
               if any(r.category == c for r in self.results)}
        out["overall"] = summarize(list(self.results))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"catalog": self.catalog_root, "summary": self.summary(), "results": [r.to_dict() for r in self.results]}


def summarize(results: list[ValidationResult]) -> dict[str, Any]:
    """Count, how many were expressed, median and worst absolute error, and the share of
    expressed rows within 10%, 20% and 30%. Rows not expressible count only in
    `not_expressible`."""
    expressed = [r for r in results if r.status == OK]
    errors = [abs(r.error) for r in expressed]  # type: ignore[arg-type]
    worst = max(expressed, key=lambda r: abs(r.error), default=None)  # type: ignore[arg-type]
    share = (lambda limit: sum(e <= limit for e in errors) / len(errors)) if errors else (lambda limit: None)
    return {
        "count": len(results),
        "expressed": len(expressed),
        "not_expressible": len(results) - len(expressed),
        "median_abs_error": statistics.median(errors) if errors else None,
        "worst": None if worst is None else {"id": worst.id, "error": worst.error},
        "within_10": share(0.10),
        "within_20": share(0.20),
        "within_30": share(0.30),
    }


def display_number(value: float | None) -> str:
    """A measured or predicted figure as the validation tables show it ("-" for none)."""
    if value is None:
        return "-"
    return format_number(value, 4)


def display_percent(value: float | None, signed: bool = False) -> str:
    """A share or an error as the validation tables show it ("-" for none)."""
    if value is None:
        return "-"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def validate(catalog: Any, category: str | None = None) -> ValidationReport:
    """Run every measurement of `catalog` (or only those of `category`) through the solvers."""
    if category is not None and category not in CATEGORIES:
        raise MlsysimError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    records = [r for r in catalog.records("measurements") if category is None or r.get("category") == category]
    records.sort(key=lambda r: (CATEGORIES.index(r.get("category")), r.id))
    return ValidationReport(tuple(run_one(r, catalog) for r in records), str(catalog.root))


def run_one(rec: Record, catalog: Any) -> ValidationResult:
    """One measurement: its prediction, or why it is not expressible."""
    category, metric = rec.get("category"), rec.get("metric")
    devices = int(rec.get("devices"))
    measured = rec.si("measured")
    claim = rec.claims["measured"]
    base = dict(
        id=rec.id, name=rec.name, category=category, metric=metric, model=rec.ref_id("model"),
        hardware=rec.ref_id("hardware"), devices=devices, measured=measured, source=claim["source"],
        locator=claim.get("locator"), as_stated=claim.get("as_stated"), note=rec.get("note"),
    )
    call = Call(rec, catalog)
    try:
        _priced_parts_only(call)
        total = PREDICTORS[category](call)
    except NotExpressible as why:
        return ValidationResult(**base, predicted=None, status=NOT_EXPRESSIBLE, reason=str(why),
                                assumed=tuple(call.assumed), remarks=tuple(call.remarks))
    except MlsysimError as exc:
        return ValidationResult(**base, predicted=None, status=NOT_EXPRESSIBLE, reason=f"the solver refused it: {exc}",
                                assumed=tuple(call.assumed), remarks=tuple(call.remarks))
    # Rates of the whole system are divided over its devices when the source states them per device.
    predicted = total / devices if rec.get("per_device") and metric in EXTENSIVE else total
    # What the prediction leaves unpriced is said only of a prediction that was made.
    remarks = tuple(call.remarks) + tuple(f"not priced: {reason}" for reason in call.unpriced)
    return ValidationResult(**base, predicted=predicted, status=OK, assumed=tuple(call.assumed), remarks=remarks)


@dataclass
class Call:
    """What one measurement says, read for a solver call, with the defaults it had to assume."""

    rec: Record
    catalog: Any
    assumed: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)  # fixed costs the solver call left out, and why

    @property
    def metric(self) -> str:
        return self.rec.get("metric")

    def config(self, name: str) -> Any:
        return self.rec.plain_fields.get("config", {}).get(name)

    def layout(self, name: str) -> Any:
        return (self.config("parallelism") or {}).get(name)

    def need(self, name: str, why: str) -> Any:
        value = self.config(name)
        if value is None:
            raise NotExpressible(f"the source states no {name.replace('_', ' ')}; {why}")
        return value

    def default(self, name: str, value: Any, *, listed: bool = True) -> Any:
        """A layout field, or the solver's default when the source does not state it
        (listed in `assumed` unless `listed` is False)."""
        stated = self.layout(name)
        if stated is None:
            if listed:
                self.assumed.append(f"{name} = {value} (not stated)")
            return value
        return stated

    def model(self) -> Record:
        return self.catalog.get("models", self.rec.ref_id("model"))

    def hardware(self) -> Record:
        return self.catalog.get("hardware", self.rec.ref_id("hardware"))

    def node(self) -> Record | None:
        return self.catalog.get("nodes", self.rec.ref_id("node")) if "node" in self.rec.references else None

    def is_transformer(self) -> bool:
        return self.model().get("architecture") == "transformer"


# ---------------------------------------------------------------- one function per category


# What a measured time may hold beyond the accelerator's work (config `timing_includes`),
# and why no solver prices it.
UNPRICED_TIMING = {
    "input_pipeline": "data loading and decoding on the host, which the forward-pass roofline does not model",
    "client": "a serving client's serialisation, network round trip and server queue, which no solver here models",
    "tensorflow_executor": ("TensorFlow 1's host time to dispatch each operator of the graph (no XLA), for which no "
                            "figure is cited (Engine.solve's host_dispatch has one for eager PyTorch only)"),
}


def _priced_parts_only(c: Call) -> None:
    """Refuse a row whose measured time, per its source, holds work no solver prices."""
    parts = c.config("timing_includes") or ()
    if parts:
        raise NotExpressible("the measured time includes " + "; and ".join(UNPRICED_TIMING[p] for p in parts))


def predict_training(c: Call) -> float:
    """DistributedModel.solve on the measurement's cluster, layout and global batch; the
    metric is read from the TrainingResult (per-device hardware FLOP/s counts
    recomputation, as Megatron-LM reports it; MFU counts model FLOPs)."""
    from mlsysim import DistributedModel

    if not c.is_transformer():
        return _cnn_training(c)
    if "cluster" not in c.rec.references:
        raise NotExpressible("no cluster record names the interconnect this ran on (node and fabric)")
    offloaded = c.layout("offloaded_layers")
    if offloaded is not None:
        raise NotExpressible(f"the activations of {offloaded} layers are offloaded to host memory; the solver models "
                             "neither their transfers over the CPU link nor the device memory they free")
    precision = c.need("precision", "the peak compute depends on it")
    batch = c.need("batch_size", "the step time depends on the global batch")
    devices = int(c.rec.get("devices"))
    tp, pp, cp = c.default("tp", 1), c.default("pp", 1), c.default("cp", 1)
    dp = c.layout("dp")
    if dp is not None and dp * tp * pp * cp != devices:
        raise NotExpressible(f"tp x pp x cp x dp = {tp} x {pp} x {cp} x {dp} does not equal the {devices} devices")
    fused = c.config("fused_attention") is not False
    common = dict(
        batch_size=batch, precision=precision, efficiency=c.catalog.get("assumptions", TRAINING_EFFICIENCY),
        tp=tp, pp=pp, cp=cp, ep=c.default("ep", 1, listed=bool(c.model().get("transformer.experts_total", 0))), devices=devices, seq_len=c.config("sequence_length"),
        microbatch=c.default("microbatch", 1), schedule=c.default("schedule", "interleaved", listed=pp > 1),
        interleave=c.default("interleave", None, listed=False), zero=c.default("zero", 0),
        sequence_parallel=bool(c.default("sequence_parallel", False)), fused_attention=fused,
        overlap_grad_reduce=bool(c.default("overlap_grad_reduce", False)),
        overlap_param_gather=bool(c.default("overlap_param_gather", False, listed=c.layout("zero") == 3)),
        shard_within_node=bool(c.default("shard_within_node", False, listed=False)),
        recompute_layers=c.layout("recompute_layers"),
        ep_dispatch=c.default("ep_dispatch", "all_to_all", listed=False),
        expert_tp=c.layout("expert_tp"),
        ep_overlap=bool(c.default("ep_overlap", False, listed=False)),
        grad_reduce_fp32=bool(c.default("grad_reduce_fp32", False)),
        full_grad_allreduce=bool(c.default("full_grad_allreduce", False, listed=c.layout("zero") in (1, 2))),
        tp_comm_overlap=bool(c.default("tp_comm_overlap", False, listed=tp > 1)),
        efficiency_mode="first_principles", attention_kernel=c.config("attention_kernel"),
    )
    cluster = c.catalog.get("clusters", c.rec.ref_id("cluster"))
    stated = c.layout("recompute")
    if stated is not None:
        result = DistributedModel().solve(c.model(), cluster, recompute=stated, **common)
    else:
        # Not stated: the least recomputation with which the run fits in memory (a run that
        # did not fit could not have been measured); "none" if none fits.
        for mode in ("none", "selective", "full"):
            result = DistributedModel().solve(c.model(), cluster, recompute=mode, **common)
            if result.feasible:
                break
        else:
            mode = "none"
            result = DistributedModel().solve(c.model(), cluster, recompute=mode, **common)
        c.assumed.append(f"recompute = {mode} (not stated; the least that fits in memory)")
    if c.layout("interleave") is None and result.schedule == "interleaved" and result.pp > 1:
        c.assumed.append(f"interleave = {result.interleave} (not stated; the fastest the layer count allows)")
    return _training_reading(c, result, "a training run", {
        "tflops_per_gpu": lambda: result.achieved_flops_per_device,
        "mfu": lambda: result.mfu,
        "step_time": lambda: result.step_time,
        "tokens_per_s": lambda: result.tokens_per_second,
        "samples_per_s": lambda: result.global_batch / result.step_time,
    })


def _training_reading(c: Call, result: Any, run: str, readings: dict[str, Callable[[], float]]) -> float:
    """The row's metric read from a solved training step (`readings`: metric -> reader), with
    what the step leaves unpriced kept for the row's remarks and a step that does not fit in
    memory said so; a metric `run` has no reader for is not expressible."""
    c.unpriced.extend(result.unpriced)
    if not result.feasible:
        c.remarks.append(f"does not fit in memory per the model ({result.memory_total / 1e9:.0f} GB of "
                         f"{result.memory_capacity / 1e9:.0f} GB)")
    if c.metric not in readings:
        raise NotExpressible(f"{run} has no {c.metric}")
    return readings[c.metric]()


def _cnn_training(c: Call) -> float:
    """CNNTrainingModel.solve of a CNN on the row's cluster or node (else its accelerator) at its
    global batch; a model without a described layer structure is not expressible."""
    from mlsysim import CNNTrainingModel
    from mlsysim.solvers.terms import model_terms

    if model_terms(c.model()).resnet is None:
        raise NotExpressible("DistributedModel covers transformers and CNNTrainingModel ResNets (a 'resnet:' block); "
                             "this model is neither")
    if c.config("attention_kernel") is not None:
        raise NotExpressible("an attention kernel is named, but a ResNet has no attention")
    precision = c.need("precision", "the peak compute depends on it")
    batch = c.need("batch_size", "the step time depends on the global batch")
    if "cluster" in c.rec.references:
        target = c.catalog.get("clusters", c.rec.ref_id("cluster"))
    else:
        target = c.node() or c.hardware()
    devices = int(c.rec.get("devices"))
    microbatch = c.layout("microbatch")
    if microbatch is None:
        c.assumed.append(f"microbatch = {batch // devices} per device (not stated: no gradient accumulation)")
    result = CNNTrainingModel.solve(c.model(), target, batch, precision, devices=devices, microbatch=microbatch,
                                    layout=_layout(c, precision))
    return _training_reading(c, result, "a CNN training run", {
        "samples_per_s": lambda: result.samples_per_second,
        "step_time": lambda: result.step_time,
        "mfu": lambda: result.mfu,
        "tflops_per_gpu": lambda: result.achieved_flops_per_device,
    })


def predict_latency(c: Call) -> float:
    """Batch-1 (or stated batch) latency: Engine.solve for models with a per-inference
    FLOP count; ServingModel for transformers (prefill for TTFT, a static batch for
    ITL and end-to-end latency)."""
    precision = c.need("precision", "the peak compute depends on it")
    batch = c.config("batch_size") or 1
    if c.config("batch_size") is None:
        c.assumed.append("batch_size = 1")
    if not c.is_transformer():
        if c.metric != "latency":
            raise NotExpressible(f"{c.metric} applies to token-generating models")
        _single_replica(c)
        return _engine(c, batch, precision).si["latency"]
    serving = _serving(c, precision)
    prompt = c.need("prompt_tokens", "prefill time depends on the prompt length")
    if c.metric == "ttft":
        return serving.prefill(prompt, batch_size=batch).time
    output = c.need("output_tokens", "decode time depends on the output length")
    profile = _static_batch(c, serving, prompt, output, batch)
    if c.metric == "itl":
        return profile.itl
    if c.metric == "latency":
        return profile.latency
    raise NotExpressible(f"a latency row has no {c.metric}")


def predict_throughput(c: Call) -> float:
    """Offline throughput of the whole system. Transformers: ServingModel on one replica
    of `tp` devices, a static batch when the batch is stated, continuous batching when
    the concurrency is, times the replicas (devices / tp); a decode rate
    (`decode_tokens_per_s`) is batch / mean inter-token latency of the static batch. Other
    models: Engine.solve at the stated batch, times the devices (independent replicas)."""
    precision = c.need("precision", "the peak compute depends on it")
    devices = int(c.rec.get("devices"))
    if not c.is_transformer():
        if c.metric != "samples_per_s":
            raise NotExpressible(f"{c.metric} applies to token-generating models")
        batch = c.need("batch_size", "throughput depends on the batch")
        if devices > 1:
            c.assumed.append(f"{devices} independent replicas")
        return devices * _engine(c, batch, precision).si["throughput"]
    if c.metric not in ("tokens_per_s", "decode_tokens_per_s"):
        raise NotExpressible(f"a transformer throughput row in {c.metric} is not modelled; state output tokens/s")
    serving = _serving(c, precision)
    tp = serving.tp
    if devices % tp:
        raise NotExpressible(f"{devices} devices are not a whole number of tensor-parallel groups of {tp}")
    replicas = devices // tp
    if replicas > 1:
        c.assumed.append(f"{replicas} independent replicas of tp {tp}")
    if c.metric == "decode_tokens_per_s":
        return replicas * _decode_rate(c, serving)
    prompt = c.need("prompt_tokens", "prefill time depends on the prompt length")
    output = c.need("output_tokens", "decode time depends on the output length")
    if c.config("batch_size") is not None:
        profile = _static_batch(c, serving, prompt, output, c.config("batch_size"))
        if not profile.feasible:
            c.remarks.append("the batch does not fit in memory per the model")
        return replicas * profile.tokens_per_second
    if c.config("concurrency") is not None:
        steady = serving.continuous_batching(c.config("concurrency") // replicas or 1, prompt, output)
        return replicas * steady.tokens_per_second
    raise NotExpressible("neither the batch nor the concurrency is stated; offline throughput depends on them")


def predict_under_load(c: Call) -> float:
    """Serving under Poisson arrivals: ServingModel.under_load (continuous batching, Little's
    law for the requests in flight, an M/M/1 prefill queue for TTFT) at the stated arrival
    rate, on one replica of `tp` devices, the rate split evenly over devices / tp replicas.
    A row must state the precision, the prompt and output lengths and one of: the arrival
    rate (config `arrival_rate`, requests/s); the concurrency of a closed-loop benchmark
    (config `concurrency`: `ServingModel.at_concurrency`, per replica); or latency limits
    (config `ttft_limit_ms` and `tpot_limit_ms`, P99, as in MLPerf's Server scenario: the
    highest rate that meets both, `ServingModel.max_rate_under_slo`). TTFT is read as the
    row's `statistic` (mean, p50 or p99; the mean when not stated, listed as assumed)."""
    if not c.is_transformer():
        raise NotExpressible("the queueing model covers token-generating transformers")
    precision = c.need("precision", "the peak compute depends on it")
    prompt = c.need("prompt_tokens", "prefill time depends on the prompt length")
    output = c.need("output_tokens", "decode time depends on the output length")
    limits = (c.config("ttft_limit_ms"), c.config("tpot_limit_ms"))
    rate = c.config("arrival_rate")
    concurrency = c.config("concurrency")
    if rate is None and concurrency is None and None in limits:
        c.need("arrival_rate", "the load depends on the request rate (requests/s), the concurrency or the latency "
                               "limits it must meet")
    serving = _serving(c, precision)
    devices = int(c.rec.get("devices"))
    if devices % serving.tp:
        raise NotExpressible(f"{devices} devices are not a whole number of tensor-parallel groups of {serving.tp}")
    replicas = devices // serving.tp
    if rate is not None:
        load = serving.under_load(rate / replicas, prompt, output)
    elif concurrency is not None:
        load = serving.at_concurrency(max(concurrency // replicas, 1), prompt, output)
    else:
        load = serving.max_rate_under_slo(prompt, output, limits[0] / 1e3, limits[1] / 1e3)
    if not load.stable:
        c.remarks.append("the arrival rate exceeds the modelled capacity")
    statistic = c.config("statistic")
    if statistic is None and c.metric == "ttft":
        statistic = "mean"
        c.assumed.append("TTFT statistic = mean (not stated)")
    ttft = {"mean": load.ttft_mean, "p50": load.ttft_p50, "p99": load.ttft_p99}[statistic or "mean"]
    readings = {"tokens_per_s": replicas * load.tokens_per_second, "ttft": ttft, "itl": load.itl,
                "latency": load.request_latency}
    if c.metric not in readings:
        raise NotExpressible(f"an under-load row has no {c.metric}")
    return readings[c.metric]


def predict_edge(c: Call) -> float:
    """Edge and embedded inference: the same roofline as a data-centre device, by metric."""
    if c.metric in ("latency", "ttft", "itl"):
        return predict_latency(c)
    return predict_throughput(c)


PREDICTORS: dict[str, Callable[[Call], float]] = {
    "training": predict_training,
    "latency": predict_latency,
    "throughput": predict_throughput,
    "under_load": predict_under_load,
    "edge": predict_edge,
}


# Generated tokens a decode rate is read over when the source states no output length: the
# rate changes only through the KV cache read per step, a small share of a step at batch 1-8.
DECODE_RATE_OUTPUT_TOKENS = 128


def _decode_rate(c: Call, serving: Any) -> float:
    """Tokens generated per second while decoding (batch / mean inter-token latency) of a
    static batch after the stated prompt; prefill is not in it."""
    prompt = c.need("prompt_tokens", "the decode steps read the prompt's KV cache")
    batch = c.need("batch_size", "the decode rate depends on the batch")
    output = c.config("output_tokens")
    if output is None:
        output = DECODE_RATE_OUTPUT_TOKENS
        c.assumed.append(f"output_tokens = {output} (not stated; only the KV cache read per step depends on it)")
    profile = _static_batch(c, serving, prompt, output, batch)
    if not profile.feasible:
        c.remarks.append("the batch does not fit in memory per the model")
    return profile.decode_tokens_per_second


def _engine(c: Call, batch: int, precision: str) -> Any:
    """Engine.solve of the row's model on its hardware at `batch`, with the row's front end and
    fusion; what it leaves unpriced is kept for the row's remarks."""
    from mlsysim import Engine

    profile = Engine.solve(model=c.model(), hardware=c.hardware(), batch_size=batch, precision=precision,
                           host_dispatch=_host_dispatch(c), fusion=_fusion(c), dla=_dla(c), cuda_graph=_cuda_graph(c),
                           layout=_layout(c, precision))
    c.unpriced.extend(profile.unpriced)
    return profile


def _serving(c: Call, precision: str) -> Any:
    from mlsysim import ServingModel
    from mlsysim.solvers.roofline import BYTES_PER_ELEMENT

    if c.config("execution") not in (None, CUDA_GRAPH):
        raise NotExpressible(f"{c.config('execution').replace('_', ' ')} front end: its host time per operator is "
                             "priced for single-pass models only (Engine.solve's host_dispatch); ServingModel has no "
                             "per-operator host term for a transformer's prefill and decode steps")

    if c.config("layout") is not None:
        raise NotExpressible("a tensor layout applies to a CNN's convolutions; this row is served as an LLM")
    if c.config("attention_kernel") is not None:
        raise NotExpressible("a named attention kernel is priced in training only; ServingModel prices attention at "
                             "the accelerator's default attention figure")
    tp = c.default("tp", 1, listed=int(c.rec.get("devices")) > 1)
    node = c.node()
    target = node if node is not None and tp > 1 else c.hardware()
    reads = c.config("decode_kv_reads")
    if reads is not None:
        c.assumed.append(f"decode attention reads K/V {reads.replace('_', ' ')} (engine kernel, see the row's note)")
    kv = c.config("kv_precision")
    if kv is None and BYTES_PER_ELEMENT[precision] < 1.0:
        # Engines keep the KV cache in 16 or 8 bits when the GEMMs run in 4; 16 is the default.
        kv = "fp16"
        c.assumed.append("kv_precision = fp16 (not stated; the compute runs in 4 bits)")
    elif kv is None and BYTES_PER_ELEMENT[precision] < BYTES_PER_ELEMENT["fp16"]:
        c.assumed.append(f"kv_precision = {precision} (not stated; the compute precision)")
    serving = ServingModel(c.model(), target, precision=precision, weight_precision=c.config("weight_precision"),
                           kv_precision=kv, tp=tp, decode_kv_reads=reads or "per_kv_head", cuda_graph=_cuda_graph(c),
                           **_engine_loop_overhead(c))
    c.unpriced.extend(serving.unpriced)
    return serving


def _static_batch(c: Call, serving: Any, prompt: int, output: int, batch: int) -> Any:
    """ServingModel.solve of the row's static batch. A run whose prompt and output together
    exceed the model's stated context was measured, so the engine admitted it: it is priced
    as run, and the row says so."""
    context = serving.m.context
    past = bool(context) and prompt + output > context
    if past:
        c.assumed.append(f"runs {prompt + output:,} tokens, past {serving.m.name}'s {context:,.0f}-token context, "
                         "as the measured engine did; priced like any other positions")
    return serving.solve(prompt_tokens=prompt, output_tokens=output, batch_size=batch, past_context=past)


def _host_dispatch(c: Call) -> Any:
    """The cited per-operator host time of the front end the row ran in, if it states one
    whose host work can hold the GPU back (eager PyTorch): the value measured on the row's
    machine where one applies (`terms.applicable_assumption`), else the generic record's id
    (HOST_DISPATCH); None for compiled engines and CUDA graphs."""
    from mlsysim.solvers.terms import applicable_assumption

    execution = c.config("execution")
    if execution is None or execution == CUDA_GRAPH:
        return None
    measured = applicable_assumption(c.hardware(), "host_dispatch", execution=execution)
    chosen = HOST_DISPATCH[execution] if measured is None else measured.path.split("#")[0].removeprefix("assumptions/")
    c.assumed.append(f"host dispatch per operator of {execution.replace('_', ' ')} ({chosen})")
    return chosen if measured is None else measured


def _cuda_graph(c: Call) -> bool:
    """Whether the row replayed each pass as a CUDA graph (config `execution: cuda_graph`);
    said in `assumed` when it did."""
    if c.config("execution") != CUDA_GRAPH:
        return False
    c.assumed.append("each pass replayed as a CUDA graph: no host dispatch or launch per kernel; each kernel at the "
                     "time per kernel of a graph replay cited for the GPU, where one is")
    return True


def _layout(c: Call, precision: str) -> str | None:
    """The tensor layout of the row's convolutions (config `layout`) where the catalog cites a
    convolution efficiency for it on the row's accelerator and precision; else None, the
    accelerator's default convolution figure, said so in the row's assumptions (a run in a
    layout the catalog has no figure for is priced at the figure it has, in the open)."""
    from mlsysim.solvers.kernel_efficiency import conv_layout_cited
    from mlsysim.solvers.terms import hardware_terms

    layout = c.config("layout")
    if layout is None:
        return None
    named = {"nchw": "NCHW", "channels_last": "channels-last"}.get(layout, layout)
    if conv_layout_cited(hardware_terms(c.hardware(), precision, require_memory=False), layout):
        c.assumed.append(f"convolutions at the efficiency cited for the {named} layout")
        return layout
    c.assumed.append(f"convolutions at {c.hardware().label}'s default convolution figure: none is cited for the "
                     f"{named} layout the run used")
    return None


def _engine_loop_overhead(c: Call) -> dict[str, str]:
    """ServingModel's runtime costs of the step loop the row's engine ran, if it states one
    that leaves its host time exposed (cited records per iteration and per running request);
    none for engines that overlap that time with the GPU."""
    loop = c.config("engine_loop")
    if loop is None:
        return {}
    label, per_iteration, per_request = ENGINE_LOOP_OVERHEAD[loop]
    c.assumed.append(f"host time per engine iteration of {label} ({per_iteration}) "
                     f"and per running request per iteration ({per_request})")
    return {"iteration_overhead": per_iteration, "request_overhead": per_request}


def _fusion(c: Call) -> str | None:
    """The operator fusion the row's engine applies, where the model's layers are described
    (a CNN with a `resnet:` block); None otherwise (one kernel per operator)."""
    from mlsysim.solvers.terms import model_terms

    fusion = c.config("operator_fusion")
    if fusion is None or model_terms(c.model()).resnet is None:
        return None
    c.assumed.append(f"{fusion}: batch norm, ReLU and the residual add fused into the preceding convolution "
                     "(TensorRT's documented layer fusions)")
    return fusion


def _dla(c: Call) -> bool:
    """Whether the row spread its CNN over the module's deep-learning accelerators as well as
    its GPU (config `device_part: gpu_and_dla`); said in `assumed` when it did."""
    if c.config("device_part") != "gpu_and_dla":
        return False
    c.assumed.append("the GPU's and the DLAs' peaks pooled as one device, at the GPU's efficiencies")
    return True


def _single_replica(c: Call) -> None:
    if int(c.rec.get("devices")) != 1:
        raise NotExpressible("latency on several devices without a tensor-parallel model is not defined")
