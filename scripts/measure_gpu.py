"""Microbenchmarks of one GPU, for the inference assumptions of mlsysim (run where a GPU is).

    python scripts/measure_gpu.py --out gpu.json            # full run, < 5 minutes on an H100/H200
    python scripts/measure_gpu.py --device cpu --quick      # tiny smoke run of the bookkeeping

Measures, and prints and writes as JSON (schema SCHEMA below):
- dense GEMM throughput by shape and precision (bf16; fp8 via torch._scaled_mm where the
  GPU and PyTorch support it), as TFLOP/s = 2 M N K / time, including a Llama layer's
  4,096-column GEMMs at 128 to 2,048 rows (how the tile grid fills the SMs);
- achieved memory bandwidth of a large device-to-device copy (bytes read + written / time);
- attention throughput (torch scaled_dot_product_attention): prefill (causal, S x S) and
  decode (1 query over a KV cache of S tokens), as TFLOP/s and bytes/s of the KV read;
- kernel launch cost: the time per launch of back-to-back tiny kernels issued from Python,
  and, on a GPU, the time per kernel of the same burst replayed as a CUDA graph (the GPU-side
  gap between kernels, with no host work);
- host dispatch per eager call of each module a CNN runs (convolution, batch norm, ReLU, the
  residual add, pooling, linear, and a whole bottleneck block), on a tiny input so the time is
  the host's;
- every distinct convolution of ResNet-50 at batches 1, 32 and 256, in NCHW and in
  channels-last (NHWC) layout, as TFLOP/s (2 x multiply-adds / time);
- every distinct element-wise kernel of ResNet-50 (batch norm, ReLU, residual add, the max
  and global average pools) at the same batches and layouts, as bytes read and written per
  second;
- every operator of one decode step of that decoder's layer other than its weight GEMMs
  (RMSNorm, the KV-cache write, attention over the cache, the residual add, SiLU x up) at
  each decode batch: the bytes it must move and its time in a CUDA graph, i.e. what a decode
  step's small kernels cost;
- a randomly initialised Llama-3-8B-shaped decoder built from its config (no download):
  prefill latency of a prompt and per-token decode latency with a KV cache, eager and as a
  replayed CUDA graph (no host overhead), the latter at several decode batch sizes;
- the same shape as Hugging Face transformers' LlamaForCausalLM built from a LlamaConfig:
  prefill latency and eager per-token decode latency (the framework as users run it);
- a torchvision ResNet-50 (random weights) batch sweep: latency and images/s per batch,
  eager and as a replayed CUDA graph, in NCHW with cuDNN's defaults and in channels-last with
  cuDNN's autotuner on;
- torchvision ResNet-50 training steps (mixed precision, SGD with momentum, random inputs on
  the device) at batches 32, 128 and 256: the time of a step and of its forward pass;
- sustained GEMMs: a large BF16 and FP8 GEMM replayed back to back for SUSTAINED_SECONDS,
  timed in one-second windows with the clocks and power sampled in each: whether the
  throughput of the first second (what a short timed burst sees) holds once the board reaches
  its power limit, as a training step or a long prefill does;
- last (the profiler is started only once everything else is timed), the GPU kernels that one
  call of each of those decode operators, one decode step of the decoder and one ResNet-50
  pass in each layout launch.

On a GPU each GEMM, attention and convolution is also timed as a burst of calls replayed
in one CUDA graph, cycling through enough copies of its operands that they are read from
memory rather than the L2 cache (`graph` in its row): a single eager call's time includes the
host's dispatch of it, which for a kernel of tens of microseconds is a large share. While each
section runs, nvidia-smi samples the GPU's SM and memory clocks, power, temperature and
throttle reasons every 200 ms (`clocks`): a GPU held at its power limit runs below the boost
clock its peak figures assume, which a comparison with a vendor's table has to know.

Library code is in functions over plain values; only `main` prints. torch (and torchvision
for the ResNet sweep) are imported lazily, so the argument parsing and the JSON bookkeeping
run (and are tested) without them.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import time
from typing import Any, Callable, Iterator

SCHEMA = "mlsysim-gpu-measurements/1"
SECTIONS = ("gemm", "bandwidth", "attention", "launch", "dispatch", "conv", "elementwise", "decode_kernels", "llama",
            "llama_hf", "resnet", "resnet_train", "sustained", "kernel_counts")
# Sections added after the first reports were written: checked only when present.
LATER_SECTIONS = {"conv": list, "dispatch": dict, "elementwise": list, "decode_kernels": list, "kernel_counts": dict,
                  "clocks": dict, "sustained": list, "resnet_train": list}
# What nvidia-smi samples while a section runs: the clocks and power a sustained kernel holds
# (a GPU at its power limit runs below its boost clock, and its peaks with it).
CLOCK_FIELDS = ("clocks.sm", "clocks.mem", "power.draw", "temperature.gpu", "clocks_throttle_reasons.active")
# How long each sustained GEMM runs, cut into windows of SUSTAINED_WINDOW_S: tens of seconds of
# back-to-back GEMMs, as a training step or a long prefill holds, bring a board to its power
# limit; the first window is what a short timed burst sees.
SUSTAINED_SECONDS = 12.0
SUSTAINED_WINDOW_S = 1.0

# Calls per CUDA-graph replay when a kernel is timed in a graph, and the most operand copies
# cycled through (enough that together they are at least twice the L2 cache).
GRAPH_CALLS = 20
MAX_OPERAND_SETS = 64

# The convolution layouts compared, each with its cuDNN autotuner setting: PyTorch's default
# NCHW with the autotuner off, and channels-last (NHWC) with it on.
LAYOUTS = (("nchw", False), ("channels_last", True))

# Llama-3-8B (Meta's sku_list model_args, as in catalog/models/language/llama3_8b.yaml).
LLAMA3_8B = {"layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8, "ffn": 14336, "vocab": 128256}
# A tiny shape of the same structure, for CPU smoke runs.
LLAMA_TINY = {"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "ffn": 128, "vocab": 256}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options: --out, --device, --quick, --only (sections), --iters."""
    p = argparse.ArgumentParser(description="GPU microbenchmarks for mlsysim's inference assumptions")
    p.add_argument("--out", default="gpu_measurements.json", help="JSON file to write")
    p.add_argument("--device", default="cuda", help="torch device (cuda, cuda:1, cpu)")
    p.add_argument("--quick", action="store_true", help="tiny shapes and few iterations (CPU smoke run)")
    p.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    p.add_argument("--iters", type=int, default=20, help="timed iterations per measurement")
    p.add_argument("--commit", default="", help="git commit of this script, recorded in the report")
    args = p.parse_args(argv)
    if args.iters < 1:
        p.error("--iters must be >= 1")
    return args


def plan(quick: bool) -> dict[str, Any]:
    """The shapes each section measures: full sizes for a GPU, tiny ones with `quick`."""
    if quick:
        return {"gemm": [(64, 64, 64), (128, 64, 32)], "copy_bytes": 1 << 20, "attention": [(1, 2, 64, 16)],
                "launches": 50, "dispatch_calls": 20, "conv_batches": [2], "conv_size": 32, "llama": LLAMA_TINY, "prompt": 16, "decode_tokens": 4, "decode_batches": [1, 2],
                "resnet_batches": [1, 2],
                "resnet_size": 64, "train_batches": [2], "sustained": [(64, 64, 64)], "sustained_seconds": 0.2, "sustained_window_s": 0.05}
    # Square-ish sweep by M, then the four weight GEMMs of a Llama-3-8B layer for a 512-token
    # prefill (fused QKV, attention output, fused gate+up, down).
    llama_prefill = [(512, 6144, 4096), (512, 4096, 4096), (512, 28672, 4096), (512, 4096, 14336)]
    # The same layer's weight GEMMs at decode batch sizes: how fast a skinny GEMM streams weights.
    llama_decode = [(m, n, k) for m in (2, 4, 8, 32, 64) for n, k in ((6144, 4096), (28672, 4096), (4096, 14336))]
    # Its 4,096-column GEMMs at prompts of 128 to 2,048 tokens: how the tile grid fills the SMs
    # (a 256 x 128 tile gives 64 tiles at 512 tokens, half of a 132-SM wave).
    tile_sweep = [(m, 4096, k) for m in (128, 256, 1024, 2048) for k in (4096, 14336)]
    return {"gemm": [(m, 8192, 8192) for m in (1, 16, 128, 1024, 8192)] + [(4096, 14336, 4096), (4096, 4096, 14336)]
            + llama_prefill + llama_decode + tile_sweep,
            # ResNet-50's convolutions and element-wise kernels at a latency, a middle and a
            # throughput batch: how their efficiency follows the batch.
            "conv_batches": [1, 32, 256], "conv_size": 224,
            "copy_bytes": 2 << 30, "attention": [(1, 32, 2048, 128), (8, 32, 4096, 128)],
            "launches": 2000, "dispatch_calls": 500, "llama": LLAMA3_8B, "prompt": 512, "decode_tokens": 32, "decode_batches": [1, 8, 32, 64],
            "resnet_batches": [1, 2, 4, 8, 16, 32, 64, 128, 256], "resnet_size": 224,
            # Training steps at a small, a middle and NVIDIA's per-GPU batch for this model.
            "train_batches": [32, 128, 256],
            # The largest GEMM of the sweep, and a Llama layer's MLP down projection at 4,096
            # rows (the row count of NVIDIA's GEMM tables the solvers' figures come from).
            "sustained": [(8192, 8192, 8192), (4096, 4096, 14336)], "sustained_seconds": SUSTAINED_SECONDS,
            "sustained_window_s": SUSTAINED_WINDOW_S}


def summary(times: list[float]) -> dict[str, float]:
    """Median, minimum and mean of `times` [s] (the median is the figure to use)."""
    s = sorted(times)
    n = len(s)
    median = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
    return {"median_s": median, "min_s": s[0], "mean_s": sum(s) / n, "iters": n}


def new_report(device: dict[str, Any], quick: bool, commit: str = "") -> dict[str, Any]:
    """An empty report: what ran where (script commit, device, software), one list or dict per section."""
    return {"schema": SCHEMA, "quick": quick, "commit": commit, "host": platform.node(), "started": time.time(),
            "device": device, "gemm": [], "bandwidth": {}, "attention": [], "launch": {}, "dispatch": {}, "conv": [], "elementwise": [], "decode_kernels": [], "kernel_counts": {}, "llama": {},
            "llama_hf": {}, "resnet": [], "resnet_train": [], "sustained": [], "skipped": {}}


def check_report(report: dict[str, Any]) -> list[str]:
    """Problems with a report's shape (empty if none): every section present with its type,
    every measured time positive."""
    problems = []
    if report.get("schema") != SCHEMA:
        problems.append(f"schema is {report.get('schema')!r}, expected {SCHEMA!r}")
    for name, kind in (("gemm", list), ("bandwidth", dict), ("attention", list), ("launch", dict),
                       ("llama", dict), ("llama_hf", dict), ("resnet", list), ("skipped", dict), ("device", dict)):
        if not isinstance(report.get(name), kind):
            problems.append(f"{name} must be a {kind.__name__}")
    for name, kind in LATER_SECTIONS.items():
        if name in report and not isinstance(report[name], kind):
            problems.append(f"{name} must be a {kind.__name__}")
    rows = [r for name in ("gemm", "attention", "resnet", "conv", "elementwise", "decode_kernels", "resnet_train")
            if isinstance(report.get(name), list)
            for r in report[name]]
    for row in rows:
        if "error" not in row and not row.get("median_s", 0) > 0:
            problems.append(f"non-positive time in {row}")
    for row in report.get("sustained", []) if isinstance(report.get("sustained"), list) else []:
        if "error" not in row and not (row.get("windows") and all(w["tflops"] > 0 for w in row["windows"])):
            problems.append(f"sustained GEMM {row.get('precision')} {row.get('m')}x{row.get('n')}x{row.get('k')} "
                            "has no timed window, or one with no throughput")
    return problems


def parse_clock_samples(lines: list[str]) -> dict[str, Any]:
    """The summary of nvidia-smi's CSV samples of CLOCK_FIELDS (no header, no units): median and
    lowest SM clock [MHz], median memory clock [MHz], median and highest power [W], highest
    temperature [C], and every throttle-reason bit mask seen (hex, as nvidia-smi prints it).
    Lines that do not parse (a "[N/A]" field, a partial last line) are left out and counted."""
    sm, mem, power, temp, reasons, bad = [], [], [], [], set(), 0
    for line in lines:
        parts = [x.strip() for x in line.split(",")]
        try:
            if len(parts) != len(CLOCK_FIELDS):
                raise ValueError(line)
            values = [float(x) for x in parts[:4]]
        except ValueError:
            bad += 1
            continue
        sm.append(values[0])
        mem.append(values[1])
        power.append(values[2])
        temp.append(values[3])
        reasons.add(parts[4])
    if not sm:
        return {"samples": 0, "unparsed": bad}
    return {"samples": len(sm), "unparsed": bad, "sm_mhz_median": statistics.median(sm), "sm_mhz_min": min(sm),
            "mem_mhz_median": statistics.median(mem), "power_w_median": statistics.median(power),
            "power_w_max": max(power), "temperature_c_max": max(temp), "throttle_reasons": sorted(reasons)}


# The clock and power settings the GPU runs under (nvidia-smi query fields): the application
# clocks the driver targets and their default, the most the board allows, and the power limits.
# NVIDIA's AIConfigurator collects its tables with the application clocks set to the maximum.
CLOCK_SETTINGS = ("clocks.applications.graphics", "clocks.default_applications.graphics", "clocks.max.sm",
                  "clocks.applications.memory", "clocks.max.memory", "power.limit", "power.default_limit",
                  "power.max_limit")


def clock_settings(index: int) -> dict[str, Any]:
    """GPU `index`'s CLOCK_SETTINGS as nvidia-smi reports them (MHz, W; strings where it says
    "[N/A]"), or why they could not be read. Never raises."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {"error": "nvidia-smi not found"}
    cmd = [exe, f"--query-gpu={','.join(CLOCK_SETTINGS)}", "--format=csv,noheader,nounits", f"--id={index}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    parts = [x.strip() for x in out.strip().splitlines()[0].split(",")] if out.strip() else []
    if len(parts) != len(CLOCK_SETTINGS):
        return {"error": f"unexpected nvidia-smi output: {out.strip()[:200]!r}"}
    settings: dict[str, Any] = {}
    for name, text in zip(CLOCK_SETTINGS, parts):
        try:
            settings[name] = float(text)
        except ValueError:
            settings[name] = text
    return settings


@contextlib.contextmanager
def clock_sampler(index: int, into: dict[str, Any], name: str, period_ms: int = 200) -> Iterator[None]:
    """Sample GPU `index`'s clocks and power with nvidia-smi every `period_ms` while the block
    runs, and store their summary (`parse_clock_samples`) in `into[name]`; without nvidia-smi,
    or if it fails, store why instead. Never raises for the sampler's sake."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        into[name] = {"error": "nvidia-smi not found"}
        yield
        return
    cmd = [exe, f"--query-gpu={','.join(CLOCK_FIELDS)}", "--format=csv,noheader,nounits", f"-lms={period_ms}",
           f"--id={index}"]
    try:
        # Its own process group, so that stopping it stops anything it started too.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                start_new_session=True)
    except OSError as exc:
        into[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        yield
        return
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                out, _ = proc.communicate(timeout=5)
                break
            except subprocess.TimeoutExpired:
                out = ""
        into[name] = parse_clock_samples(out.splitlines())


# ------------------------------------------------------------------------- measurements (torch)


def _timer(torch: Any, device: Any) -> Callable[[Callable[[], Any], int], list[float]]:
    """Times of `iters` calls of a function after 3 warm-ups, synchronising the device."""
    cuda = device.type == "cuda"

    def run(fn: Callable[[], Any], iters: int) -> list[float]:
        for _ in range(3):
            fn()
        out = []
        for _ in range(iters):
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                out.append(start.elapsed_time(end) / 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t0)
        return out
    return run


def _graphed(torch: Any, fn: Callable[[], Any]) -> Callable[[], Any]:
    """`fn` captured as a CUDA graph (after warm-up on a side stream); calling the result replays
    the captured kernels with no host work between them."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


# Longest kernel name kept in a report (templated kernel names run to thousands of characters).
KERNEL_NAME_CHARS = 160


def _gpu_kernel_names(torch: Any, device: Any, fn: Callable[[], Any]) -> dict[str, int] | None:
    """GPU activities (kernels, memory copies and sets) one eager call of `fn` issues, by name
    (cut to KERNEL_NAME_CHARS) and how many times each runs, traced by the PyTorch profiler;
    None off a GPU or where the profiler cannot trace the device."""
    if device.type != "cuda":
        return None
    try:
        from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415
        fn()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        names: dict[str, int] = {}
        for event in prof.events():
            if event.device_type == torch.autograd.DeviceType.CUDA:
                name = event.name[:KERNEL_NAME_CHARS]
                names[name] = names.get(name, 0) + 1
        return names
    except (RuntimeError, AttributeError, AssertionError):
        return None


def _gpu_kernels(torch: Any, device: Any, fn: Callable[[], Any]) -> int | None:
    """How many GPU activities one eager call of `fn` issues (`_gpu_kernel_names`), or None."""
    names = _gpu_kernel_names(torch, device, fn)
    return None if names is None else sum(names.values())


def _operand_sets(torch: Any, device: Any, first: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """`first` and enough copies of it that cycling through them reads at least twice the GPU's
    L2 cache from memory (2 sets at least, MAX_OPERAND_SETS at most); just `first` off a GPU."""
    if device.type != "cuda":
        return [first]
    l2 = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 64 << 20)
    nbytes = sum(t.numel() * t.element_size() for t in first)
    n = min(MAX_OPERAND_SETS, max(2, math.ceil(2 * l2 / max(nbytes, 1))))
    return [first] + [tuple(t.clone() for t in first) for _ in range(n - 1)]


def _in_graph(torch: Any, device: Any, calls: list[Callable[[], Any]], iters: int) -> dict[str, Any] | None:
    """Time per call [s] of GRAPH_CALLS calls cycling through `calls` (one per operand set),
    captured as one CUDA graph and replayed: the kernels' own time with no host dispatch
    between them. None off a GPU; {"error": ...} where the capture fails."""
    if device.type != "cuda":
        return None

    def burst() -> None:
        for i in range(GRAPH_CALLS):
            calls[i % len(calls)]()
    try:
        s = summary(_timer(torch, device)(_graphed(torch, burst), iters))
    except RuntimeError as exc:
        return {"error": str(exc)[:200]}
    return {"median_s": s["median_s"] / GRAPH_CALLS, "min_s": s["min_s"] / GRAPH_CALLS,
            "mean_s": s["mean_s"] / GRAPH_CALLS, "iters": s["iters"], "calls_per_replay": GRAPH_CALLS,
            "operand_sets": len(calls)}


def _with_rate(graph: dict[str, Any] | None, **work: float) -> dict[str, Any] | None:
    """`graph` (an `_in_graph` result) with each quantity of `work` divided by its median time
    (e.g. tflops=FLOPs / 1e12 gives TFLOP/s)."""
    if not graph or "error" in graph:
        return graph
    return {**graph, **{name: amount / graph["median_s"] for name, amount in work.items()}}


@contextlib.contextmanager
def _layout(torch: Any, layout: str, benchmark: bool) -> Iterator[Any]:
    """The memory format of `layout`, with cuDNN's autotuner set to `benchmark` until the block ends."""
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = benchmark
    try:
        yield torch.channels_last if layout == "channels_last" else torch.contiguous_format
    finally:
        torch.backends.cudnn.benchmark = saved


def fp8_gemm(torch: Any, device: Any, m: int) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """The FP8 (e4m3) GEMM of torch._scaled_mm for `m` rows on `device`, as (convert, multiply):
    convert(a, b) gives the operands in FP8 (b column-major, as _scaled_mm requires) and
    multiply(a8, b8) their product in BF16 with unit per-tensor scales; None off a GPU, where
    PyTorch has no FP8, or where `m` is not a multiple of 16."""
    fp8 = getattr(torch, "float8_e4m3fn", None)
    if device.type != "cuda" or fp8 is None or not hasattr(torch, "_scaled_mm") or m % 16:
        return None
    one = torch.tensor(1.0, device=device)
    return (lambda a, b: (a.to(fp8), b.t().contiguous().to(fp8).t()),
            lambda a8, b8: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16))


def measure_gemm(torch: Any, device: Any, shapes: list[tuple[int, int, int]], iters: int) -> list[dict[str, Any]]:
    """Dense GEMM C[M,N] = A[M,K] B[K,N]: TFLOP/s = 2 M N K / median time, bf16 and fp8; on a GPU
    also in a CUDA graph (`graph`), with the rate at which it reads B (the weights) [B/s]."""
    timed, rows = _timer(torch, device), []
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    for m, n, k in shapes:
        a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
        flops, weights = 2.0 * m * n * k, float(n * k * b.element_size())
        sets = _operand_sets(torch, device, (a, b))
        s = summary(timed(lambda: a @ b, iters))
        graph = _in_graph(torch, device, [lambda x=x, y=y: x @ y for x, y in sets], iters)
        rows.append({"precision": "bf16" if dtype == torch.bfloat16 else "fp32", "m": m, "n": n, "k": k, **s,
                     "tflops": flops / s["median_s"] / 1e12, "graph": _with_rate(graph, tflops=flops / 1e12,
                                                                                    weight_bytes_per_s=weights)})
        fp8 = fp8_gemm(torch, device, m)
        if fp8 is not None:
            convert, multiply = fp8
            try:
                sets8 = [convert(x, y) for x, y in sets]
                a8, b8 = sets8[0]
                s8 = summary(timed(lambda: multiply(a8, b8), iters))
                graph8 = _in_graph(torch, device, [lambda x=x, y=y: multiply(x, y) for x, y in sets8], iters)
                rows.append({"precision": "fp8", "m": m, "n": n, "k": k, **s8, "tflops": flops / s8["median_s"] / 1e12,
                             "graph": _with_rate(graph8, tflops=flops / 1e12, weight_bytes_per_s=float(n * k))})
                del sets8
            except (RuntimeError, TypeError) as exc:
                rows.append({"precision": "fp8", "m": m, "n": n, "k": k, "error": str(exc)[:200]})
        del sets
    return rows


def measure_bandwidth(torch: Any, device: Any, nbytes: int, iters: int) -> dict[str, Any]:
    """Achieved memory bandwidth of a device copy: 2 x bytes (read + write) / median time."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    s = summary(_timer(torch, device)(lambda: dst.copy_(src), iters))
    return {"bytes": nbytes, **s, "bytes_per_s": 2.0 * nbytes / s["median_s"]}


def measure_attention(torch: Any, device: Any, shapes: list[tuple[int, int, int, int]], iters: int) -> list[dict[str, Any]]:
    """scaled_dot_product_attention, batch B, heads H, S tokens, head dim D. Prefill (causal):
    FLOPs = 4 B H S^2 D / 2. Decode (one query over S cached tokens): FLOPs = 4 B H S D, and the
    K and V read = 2 B H S D x bytes per element. On a GPU also in a CUDA graph (`graph`)."""
    F = torch.nn.functional
    timed, rows = _timer(torch, device), []
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    size = 2 if dtype == torch.bfloat16 else 4
    for b, h, s_len, d in shapes:
        q, k, v = (torch.randn(b, h, s_len, d, device=device, dtype=dtype) for _ in range(3))
        sets = _operand_sets(torch, device, (q, k, v))
        flops = 2.0 * b * h * s_len * s_len * d
        pre = summary(timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), iters))
        graph = _in_graph(torch, device, [lambda x=x, y=y, z=z: F.scaled_dot_product_attention(x, y, z, is_causal=True)
                                          for x, y, z in sets], iters)
        rows.append({"phase": "prefill", "batch": b, "heads": h, "tokens": s_len, "head_dim": d, **pre,
                     "tflops": flops / pre["median_s"] / 1e12, "graph": _with_rate(graph, tflops=flops / 1e12)})
        q1 = q[:, :, -1:, :]
        kv_bytes, dec_flops = 2.0 * b * h * s_len * d * size, 4.0 * b * h * s_len * d
        dec = summary(timed(lambda: F.scaled_dot_product_attention(q1, k, v), iters))
        graph = _in_graph(torch, device, [lambda x=x, y=y, z=z: F.scaled_dot_product_attention(x[:, :, -1:, :], y, z)
                                          for x, y, z in sets], iters)
        rows.append({"phase": "decode", "batch": b, "heads": h, "tokens": s_len, "head_dim": d, **dec,
                     "tflops": dec_flops / dec["median_s"] / 1e12, "kv_bytes_per_s": kv_bytes / dec["median_s"],
                     "graph": _with_rate(graph, tflops=dec_flops / 1e12, kv_bytes_per_s=kv_bytes)})
        del sets, q, k, v
    return rows


def measure_launch(torch: Any, device: Any, launches: int, iters: int) -> dict[str, Any]:
    """Cost per launch of back-to-back tiny kernels (an add on one element): time / launches."""
    x = torch.zeros(1, device=device)

    def burst() -> None:
        for _ in range(launches):
            x.add_(1.0)
    timed = _timer(torch, device)
    s = summary(timed(burst, max(iters // 4, 1)))
    out = {"launches": launches, **s, "per_launch_s": s["median_s"] / launches}
    if device.type == "cuda":
        g = summary(timed(_graphed(torch, burst), max(iters // 4, 1)))
        out["graph"] = {**g, "per_kernel_s": g["median_s"] / launches}
    return out


def measure_dispatch(torch: Any, device: Any, calls: int, iters: int) -> dict[str, Any]:
    """Host time per eager call of each module a CNN such as ResNet-50 runs, in inference mode
    with cuDNN's defaults: `calls` back-to-back calls on a tiny input (batch 1, 8 channels, 8 x 8)
    so that each kernel is far shorter than its dispatch and the time is the host's
    (time / calls). `bottleneck_block` is one torchvision Bottleneck (3 convolutions, 3 batch
    norms, 3 ReLUs, the residual add: 10 operators), also given per operator."""
    import torchvision  # noqa: PLC0415 (optional dependency)

    nn = torch.nn
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    with torch.device(device):
        x = torch.randn(1, 8, 8, 8, dtype=dtype)
        modules = {
            "conv2d_3x3": nn.Conv2d(8, 8, 3, padding=1, bias=False),
            "conv2d_1x1": nn.Conv2d(8, 8, 1, bias=False),
            "batch_norm_2d": nn.BatchNorm2d(8),
            "relu": nn.ReLU(inplace=True),
            "residual_add": lambda t: t + t,
            "max_pool_2d": nn.MaxPool2d(3, 2, 1),
            "adaptive_avg_pool_2d": nn.AdaptiveAvgPool2d(1),
            "linear": nn.Linear(8, 8),
            "bottleneck_block": torchvision.models.resnet.Bottleneck(8, 2),
        }
    flat = x.flatten(1)[:, :8].contiguous()
    timed, out = _timer(torch, device), {"calls": calls, "input": [1, 8, 8, 8], "dtype": str(dtype).replace("torch.", "")}
    with torch.inference_mode():
        for name, module in modules.items():
            if isinstance(module, nn.Module):
                module.to(dtype=dtype).eval()
            arg = flat if name == "linear" else x

            def burst(module: Any = module, arg: Any = arg) -> None:
                for _ in range(calls):
                    module(arg)
            s = summary(timed(burst, max(iters // 4, 1)))
            out[name] = {**s, "per_call_s": s["median_s"] / calls}
    out["bottleneck_block"]["per_operator_s"] = out["bottleneck_block"]["per_call_s"] / 10
    return out


def resnet50_convolutions(torch: Any, size: int) -> list[dict[str, int]]:
    """Every distinct convolution of torchvision's ResNet-50 on a `size` x `size` image: channels,
    kernel, stride, padding, input height and width, and how many times the network runs it."""
    import torchvision  # noqa: PLC0415 (optional dependency)

    model = torchvision.models.resnet50(weights=None).eval()
    seen: dict[tuple[int, ...], int] = {}

    def hook(module: Any, inputs: Any, _out: Any) -> None:
        h, w = inputs[0].shape[-2:]
        key = (module.in_channels, module.out_channels, module.kernel_size[0], module.stride[0], module.padding[0], h, w)
        seen[key] = seen.get(key, 0) + 1
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(hook)
    with torch.inference_mode():
        model(torch.zeros(1, 3, size, size))
    names = ("in_channels", "out_channels", "kernel", "stride", "padding", "height", "width")
    return [{**dict(zip(names, key)), "count": n} for key, n in seen.items()]


def measure_conv(torch: Any, device: Any, batch: int, size: int, iters: int) -> list[dict[str, Any]]:
    """Each distinct ResNet-50 convolution at `batch`, FP16 on a GPU: in NCHW with cuDNN's
    defaults, and in channels-last (NHWC) with cuDNN's autotuner on. TFLOP/s = 2 x
    batch x out-height x out-width x out-channels x in-channels x kernel^2 / median time."""
    F = torch.nn.functional
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    timed, rows = _timer(torch, device), []
    for layer in resnet50_convolutions(torch, size):
        x = torch.randn(batch, layer["in_channels"], layer["height"], layer["width"], device=device, dtype=dtype)
        w = torch.randn(layer["out_channels"], layer["in_channels"], layer["kernel"], layer["kernel"],
                        device=device, dtype=dtype)
        out_h = (layer["height"] + 2 * layer["padding"] - layer["kernel"]) // layer["stride"] + 1
        out_w = (layer["width"] + 2 * layer["padding"] - layer["kernel"]) // layer["stride"] + 1
        flops = 2.0 * batch * out_h * out_w * layer["out_channels"] * layer["in_channels"] * layer["kernel"] ** 2
        stride, padding = layer["stride"], layer["padding"]
        for layout, benchmark in LAYOUTS:
            with _layout(torch, layout, benchmark) as fmt, torch.inference_mode():
                xl, wl = x.contiguous(memory_format=fmt), w.contiguous(memory_format=fmt)
                t = summary(timed(lambda: F.conv2d(xl, wl, stride=stride, padding=padding), iters))
                sets = _operand_sets(torch, device, (xl, wl))
                graph = _in_graph(torch, device, [lambda p=p, q=q: F.conv2d(p, q, stride=stride, padding=padding)
                                                  for p, q in sets], iters)
                del sets
            rows.append({**layer, "batch": batch, "layout": layout, "cudnn_benchmark": benchmark, **t,
                         "tflops": flops / t["median_s"] / 1e12, "graph": _with_rate(graph, tflops=flops / 1e12)})
    return rows


def resnet50_elementwise(torch: Any, size: int) -> list[dict[str, Any]]:
    """Every distinct element-wise kernel of torchvision's ResNet-50 on a `size` x `size` image
    (batch norm in evaluation, ReLU, the residual add, the 3 x 3 stride-2 max pool and the
    global average pool): its kind, channels, height and width (a pool's input's, the
    others' output's) and how many times the network runs it."""
    import torchvision  # noqa: PLC0415 (optional dependency)

    model = torchvision.models.resnet50(weights=None).eval()
    seen: dict[tuple[Any, ...], int] = {}

    def hook(kind: str) -> Callable[..., None]:
        def record(_module: Any, inputs: Any, out: Any) -> None:
            key = (kind, *(inputs[0] if kind in POOLS else out).shape[1:])
            seen[key] = seen.get(key, 0) + 1
        return record
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.register_forward_hook(hook("batch_norm"))
        elif isinstance(module, torch.nn.ReLU):  # one module, called after each of a block's norms
            module.register_forward_hook(hook("relu"))
        elif isinstance(module, torchvision.models.resnet.Bottleneck):
            module.register_forward_hook(hook("residual_add"))
        elif isinstance(module, torch.nn.MaxPool2d):
            module.register_forward_hook(hook("max_pool"))
        elif isinstance(module, torch.nn.AdaptiveAvgPool2d):
            module.register_forward_hook(hook("average_pool"))
    with torch.inference_mode():
        model(torch.zeros(1, 3, size, size))
    return [{"kind": k[0], "channels": k[1], "height": k[2], "width": k[3], "count": n} for k, n in seen.items()]


# Tensors each element-wise kernel reads and writes per element of its output: batch norm and
# ReLU read and write one (ReLU in place, as torchvision runs it), the residual add reads two
# and writes one (out += identity).
ELEMENTWISE_TENSORS = {"batch_norm": 2, "relu": 2, "residual_add": 3}
# The pools, timed on their input: the max pool (3 x 3, stride 2) reads it and writes a quarter
# as many elements; the global average pool reads it and writes one element per channel.
POOLS = ("max_pool", "average_pool")


def elementwise_elements(kind: str, batch: int, channels: int, height: int, width: int) -> float:
    """Elements an element-wise kernel of `kind` reads and writes (see ELEMENTWISE_TENSORS and
    POOLS) on a `batch` x `channels` x `height` x `width` tensor (a pool's input)."""
    n = float(batch * channels * height * width)
    if kind == "max_pool":
        return n + batch * channels * math.ceil(height / 2) * math.ceil(width / 2)
    if kind == "average_pool":
        return n + batch * channels
    return ELEMENTWISE_TENSORS[kind] * n


def measure_elementwise(torch: Any, device: Any, batch: int, size: int, iters: int) -> list[dict[str, Any]]:
    """Each distinct element-wise kernel of ResNet-50 at `batch`, FP16 on a GPU, in NCHW and in
    channels-last: the bytes it reads and writes (`elementwise_elements` x 2 B) over its
    time, alone and (on a GPU) in a CUDA graph over operand copies beyond the L2 cache."""
    F = torch.nn.functional
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    timed, rows = _timer(torch, device), []
    for kernel in resnet50_elementwise(torch, size):
        c = kernel["channels"]
        x = torch.randn(batch, c, kernel["height"], kernel["width"], device=device, dtype=dtype)
        stats = [torch.rand(c, device=device, dtype=dtype) + 0.5 for _ in range(4)]
        nbytes = elementwise_elements(kernel["kind"], batch, c, kernel["height"], kernel["width"]) * x.element_size()
        for layout, _ in LAYOUTS:
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            with torch.inference_mode():
                first = x.contiguous(memory_format=fmt)
                sets = _operand_sets(torch, device, (first, first.clone()))

                def call(a: Any, b: Any, kind: str = kernel["kind"]) -> Any:
                    if kind == "batch_norm":
                        return F.batch_norm(a, stats[0], stats[1], stats[2], stats[3], False, 0.0, 1e-5)
                    if kind == "relu":
                        return F.relu(a, inplace=True)
                    if kind == "max_pool":
                        return F.max_pool2d(a, 3, 2, 1)
                    if kind == "average_pool":
                        return F.adaptive_avg_pool2d(a, 1)
                    return a.add_(b)
                a0, b0 = sets[0]
                t = summary(timed(lambda: call(a0, b0), iters))
                graph = _in_graph(torch, device, [lambda a=a, b=b: call(a, b) for a, b in sets], iters)
                del sets
            rows.append({**kernel, "batch": batch, "layout": layout, **t, "bytes": nbytes,
                         "bytes_per_s": nbytes / t["median_s"], "graph": _with_rate(graph, bytes_per_s=nbytes)})
    return rows


def decode_operators(torch: Any, cfg: dict[str, int], batch: int, context: int, device: Any,
                     dtype: Any) -> dict[str, tuple[Callable[..., Any], tuple[Any, ...], float]]:
    """The operators of one decode step of `llama_like`'s layer other than its weight GEMMs, as
    that layer runs them, at `batch` sequences of `context` cached tokens: name -> (call,
    operands, bytes the operator must read and write at the least). Operands come as a tuple
    so that copies of them can be cycled through."""
    F = torch.nn.functional
    hd, heads, kv = cfg["hidden"] // cfg["heads"], cfg["heads"], cfg["kv_heads"]
    size = torch.finfo(dtype).bits // 8
    with torch.device(device):
        norm = torch.nn.RMSNorm(cfg["hidden"]).to(dtype=dtype)
        hidden = torch.randn(batch, 1, cfg["hidden"], dtype=dtype)
        qkv = torch.randn(batch, 1, (heads + 2 * kv) * hd, dtype=dtype)
        cache = torch.zeros(2, batch, kv, context + 1, hd, dtype=dtype)
        gate_up = torch.randn(batch, 1, 2 * cfg["ffn"], dtype=dtype)
    split = [heads * hd, kv * hd, kv * hd]

    def kv_cache_write(qkv: Any, cache: Any) -> None:
        _, k, v = qkv.split(split, -1)
        cache[0][:, :, context:context + 1] = k.view(batch, 1, kv, hd).transpose(1, 2)
        cache[1][:, :, context:context + 1] = v.view(batch, 1, kv, hd).transpose(1, 2)

    def attention(qkv: Any, cache: Any) -> Any:
        q = qkv.split(split, -1)[0].view(batch, 1, heads, hd).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, cache[0], cache[1], enable_gqa=True)
        return a.transpose(1, 2).reshape(batch, 1, -1)

    def silu_mul(gate_up: Any) -> Any:
        gate, up = gate_up.chunk(2, -1)
        return F.silu(gate) * up

    vector = batch * cfg["hidden"] * size
    return {
        "rms_norm": (norm, (hidden,), 2.0 * vector + cfg["hidden"] * size),
        "kv_cache_write": (kv_cache_write, (qkv, cache), 4.0 * batch * kv * hd * size),
        "attention": (attention, (qkv, cache), 2.0 * batch * kv * (context + 1) * hd * size + 2.0 * batch * heads * hd * size),
        "residual_add": (lambda x, y: x + y, (hidden, hidden.clone()), 3.0 * vector),
        "silu_mul": (silu_mul, (gate_up,), 3.0 * batch * cfg["ffn"] * size),
    }


def measure_decode_kernels(torch: Any, device: Any, cfg: dict[str, int], context: int, batches: list[int],
                           iters: int) -> list[dict[str, Any]]:
    """Each operator of `decode_operators` at each decode batch in `batches` with `context`
    cached tokens (BF16 on a GPU): the bytes it must move, and its time alone and per call in a CUDA graph cycling through operand
    copies (`graph`; the KV cache beyond the L2 cache, as in a real step, while the small
    activations may stay in it, as they do between a step's kernels)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    timed, rows = _timer(torch, device), []
    with torch.inference_mode():
        for batch in batches:
            for name, (call, operands, nbytes) in decode_operators(torch, cfg, batch, context, device, dtype).items():
                sets = _operand_sets(torch, device, operands)
                t = summary(timed(lambda: call(*operands), iters))
                graph = _in_graph(torch, device, [lambda ops=ops: call(*ops) for ops in sets], iters)
                rows.append({"operator": name, "batch": batch, "context_tokens": context + 1, "bytes": nbytes, **t,
                             "bytes_per_s": nbytes / t["median_s"], "graph": _with_rate(graph, bytes_per_s=nbytes)})
                del sets
    return rows


def llama_like(torch: Any, cfg: dict[str, int], device: Any, dtype: Any) -> Any:
    """A randomly initialised decoder of the given shape: RMSNorm, GQA attention with a KV
    cache (no RoPE: it does not change the work to speak of), SwiGLU MLP, untied output head."""
    nn, F = torch.nn, torch.nn.functional
    hd = cfg["hidden"] // cfg["heads"]

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n1, self.n2 = nn.RMSNorm(cfg["hidden"]), nn.RMSNorm(cfg["hidden"])
            self.qkv = nn.Linear(cfg["hidden"], (cfg["heads"] + 2 * cfg["kv_heads"]) * hd, bias=False)
            self.o = nn.Linear(cfg["heads"] * hd, cfg["hidden"], bias=False)
            self.up = nn.Linear(cfg["hidden"], 2 * cfg["ffn"], bias=False)
            self.down = nn.Linear(cfg["ffn"], cfg["hidden"], bias=False)

        def forward(self, x: Any, cache: list[Any], pos: int) -> Any:
            b, t, _ = x.shape
            q, k, v = self.qkv(self.n1(x)).split([cfg["heads"] * hd, cfg["kv_heads"] * hd, cfg["kv_heads"] * hd], -1)
            q = q.view(b, t, cfg["heads"], hd).transpose(1, 2)
            k = k.view(b, t, cfg["kv_heads"], hd).transpose(1, 2)
            v = v.view(b, t, cfg["kv_heads"], hd).transpose(1, 2)
            cache[0][:, :, pos:pos + t], cache[1][:, :, pos:pos + t] = k, v
            keys, vals = cache[0][:, :, :pos + t], cache[1][:, :, :pos + t]
            a = F.scaled_dot_product_attention(q, keys, vals, is_causal=t > 1, enable_gqa=True)
            x = x + self.o(a.transpose(1, 2).reshape(b, t, -1))
            gate, up = self.up(self.n2(x)).chunk(2, -1)
            return x + self.down(F.silu(gate) * up)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab"], cfg["hidden"])
            self.layers = nn.ModuleList(Layer() for _ in range(cfg["layers"]))
            self.norm = nn.RMSNorm(cfg["hidden"])
            self.head = nn.Linear(cfg["hidden"], cfg["vocab"], bias=False)

        def forward(self, ids: Any, caches: list[list[Any]], pos: int) -> Any:
            x = self.embed(ids)
            for layer, cache in zip(self.layers, caches):
                x = layer(x, cache, pos)
            return self.head(self.norm(x[:, -1:]))

    # Built directly on the device: an 8-billion-parameter model initialised on the host first
    # would take minutes of CPU time.
    with torch.device(device):
        model = Model()
    return model.to(dtype=dtype).eval()


def kv_caches(torch: Any, cfg: dict[str, int], batch: int, tokens: int, device: Any, dtype: Any) -> list[list[Any]]:
    """Empty K and V caches of `tokens` positions for each layer of `llama_like`, as its
    forward takes them."""
    hd = cfg["hidden"] // cfg["heads"]
    return [[torch.zeros(batch, cfg["kv_heads"], tokens, hd, device=device, dtype=dtype) for _ in range(2)]
            for _ in range(cfg["layers"])]


def measure_llama(torch: Any, device: Any, cfg: dict[str, int], prompt: int, steps: int, batches: list[int],
                  iters: int) -> dict[str, Any]:
    """On the randomly initialised model of shape `cfg`: the prefill latency of one
    `prompt`-token request; the eager per-token decode latency of `steps` tokens after it
    (batch 1); and, on a GPU, the latency of one decode step at context `prompt` replayed as a
    CUDA graph, for each batch size in `batches` (kernels only: no host dispatch)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = llama_like(torch, cfg, device, dtype)

    def caches(batch: int) -> list[list[Any]]:
        return kv_caches(torch, cfg, batch, prompt + steps + 1, device, dtype)

    ids = torch.randint(0, cfg["vocab"], (1, prompt), device=device)
    timed = _timer(torch, device)
    graphs = []
    with torch.inference_mode():
        cache = caches(1)
        pre = summary(timed(lambda: model(ids, cache, 0), max(iters // 4, 1)))
        one = ids[:, :1]

        def decode() -> None:
            for i in range(steps):
                model(one, cache, prompt + i)
        dec = summary(timed(decode, max(iters // 10, 1)))
        prefill_graph = None
        if device.type == "cuda":
            prefill_graph = summary(timed(_graphed(torch, lambda: model(ids, cache, 0)), max(iters // 4, 1)))
            for b in batches:
                cache_b, ids_b = caches(b), torch.randint(0, cfg["vocab"], (b, 1), device=device)
                step = _graphed(torch, lambda: model(ids_b, cache_b, prompt))
                g = summary(timed(step, iters))
                graphs.append({"batch": b, "context_tokens": prompt + 1, **g, "tokens_per_s": b / g["median_s"]})
                del cache_b, step
    params = sum(p.numel() for p in model.parameters())
    return {"config": cfg, "parameters": params, "dtype": str(dtype).replace("torch.", ""), "prompt_tokens": prompt,
            "prefill": pre, "prefill_graph": prefill_graph, "decode_tokens": steps,
            "decode_per_token_s": dec["median_s"] / steps, "decode_graph": graphs}


def measure_llama_hf(torch: Any, device: Any, cfg: dict[str, int], prompt: int, steps: int,
                     iters: int) -> dict[str, Any]:
    """Hugging Face transformers' LlamaForCausalLM built from a LlamaConfig of shape `cfg`
    (random weights, default attention implementation, eager): the prefill latency of one
    `prompt`-token request and the median latency of each of `steps` decode steps after it,
    batch 1, with the model's own KV cache."""
    import transformers  # noqa: PLC0415 (optional dependency)

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    config = transformers.LlamaConfig(
        vocab_size=cfg["vocab"], hidden_size=cfg["hidden"], intermediate_size=cfg["ffn"],
        num_hidden_layers=cfg["layers"], num_attention_heads=cfg["heads"], num_key_value_heads=cfg["kv_heads"],
        max_position_embeddings=8192, rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False)
    with torch.device(device):
        model = transformers.LlamaForCausalLM(config)
    model = model.to(dtype=dtype).eval()
    ids = torch.randint(0, cfg["vocab"], (1, prompt), device=device)
    timed = _timer(torch, device)
    with torch.inference_mode():
        pre = summary(timed(lambda: model(input_ids=ids, use_cache=True), max(iters // 4, 1)))
        # transformers renamed `past_key_values` to `cache` (deprecated in 5.2x): use the name
        # this version's forward takes.
        name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        state = {name: model(input_ids=ids, use_cache=True)[name]}
        token = ids[:, -1:]

        def step() -> None:
            state[name] = model(input_ids=token, use_cache=True, **state)[name]
        dec = summary(timed(step, steps))
    return {"config": cfg, "transformers": transformers.__version__,
            "attn_implementation": getattr(model.config, "_attn_implementation", None),
            "dtype": str(dtype).replace("torch.", ""), "prompt_tokens": prompt, "prefill": pre,
            "decode_tokens": steps + 3, "decode_step": dec}


def measure_resnet(torch: Any, device: Any, batches: list[int], size: int, iters: int) -> list[dict[str, Any]]:
    """torchvision ResNet-50 (random weights, eval mode): latency and images/s per batch, eager
    and, on a GPU, replayed as a CUDA graph (no host dispatch). Rows without a `layout` are NCHW
    with cuDNN's defaults; on a GPU the sweep is repeated in channels-last (NHWC) with cuDNN's
    autotuner on (`layout: channels_last`)."""
    import torchvision  # noqa: PLC0415 (optional dependency)

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    with torch.device(device):
        model = torchvision.models.resnet50(weights=None)
    model = model.to(dtype=dtype).eval()
    timed, rows = _timer(torch, device), []
    for layout, benchmark in LAYOUTS if device.type == "cuda" else LAYOUTS[:1]:
        with _layout(torch, layout, benchmark) as fmt, torch.inference_mode():
            model = model.to(memory_format=fmt)
            for b in batches:
                x = torch.randn(b, 3, size, size, device=device, dtype=dtype).contiguous(memory_format=fmt)
                s = summary(timed(lambda: model(x), max(iters // 2, 1)))
                row = {"batch": b, "image_size": size, "precision": str(dtype).replace("torch.", ""), **s,
                       "images_per_s": b / s["median_s"]}
                if layout != "nchw":
                    row.update(layout=layout, cudnn_benchmark=benchmark)
                if device.type == "cuda":
                    g = summary(timed(_graphed(torch, lambda: model(x)), max(iters // 2, 1)))
                    row["graph"] = {**g, "images_per_s": b / g["median_s"]}
                rows.append(row)
    return rows


# torchvision ResNet-50's training recipe in NVIDIA's DeepLearningExamples (its README): SGD with
# momentum 0.875 and weight decay 1/32768; the learning rate does not change the step's time.
TRAIN_MOMENTUM = 0.875
TRAIN_WEIGHT_DECAY = 1.0 / 32768


def measure_resnet_training(torch: Any, device: Any, batches: list[int], size: int, iters: int) -> list[dict[str, Any]]:
    """One training step of torchvision ResNet-50 (random weights, NCHW, cuDNN's defaults) per
    batch, eager as a training script runs it: zero the gradients, the forward pass and the
    cross-entropy loss under autocast (FP16 on a GPU, with GradScaler; BF16 on a CPU), the
    backward pass, SGD with momentum and weight decay. Inputs are random tensors already on the
    device, so no input pipeline is timed. `forward` times the forward pass and the loss alone
    (gradients recorded, as in training); images/s = batch / the step's median time."""
    import torchvision  # noqa: PLC0415 (optional dependency)

    cuda = device.type == "cuda"
    amp_dtype = torch.float16 if cuda else torch.bfloat16
    with torch.device(device):
        model = torchvision.models.resnet50(weights=None)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=TRAIN_MOMENTUM, weight_decay=TRAIN_WEIGHT_DECAY)
    scaler = torch.amp.GradScaler(device.type, enabled=cuda)
    loss_fn = torch.nn.functional.cross_entropy
    timed, rows = _timer(torch, device), []
    for b in batches:
        x = torch.randn(b, 3, size, size, device=device)
        y = torch.randint(0, 1000, (b,), device=device)

        def forward() -> Any:
            with torch.autocast(device.type, dtype=amp_dtype):
                return loss_fn(model(x), y)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            scaler.scale(forward()).backward()
            scaler.step(opt)
            scaler.update()

        s = summary(timed(step, iters))
        f = summary(timed(forward, iters))
        rows.append({"batch": b, "image_size": size, "precision": f"amp_{str(amp_dtype).replace('torch.', '')}",
                     **s, "images_per_s": b / s["median_s"], "forward": f})
        opt.zero_grad(set_to_none=True)
    return rows


def sustained_summary(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """What a run of timed windows (each with `tflops` and, on a GPU, its `clocks`) says: the
    first window's TFLOP/s (what a short burst sees), the median over the second half of the
    windows (the held rate), their ratio, and the median SM clock and power of that second half
    where nvidia-smi sampled them."""
    if not windows:
        return {"window_count": 0}
    held = windows[len(windows) // 2:]
    first, sustained = windows[0]["tflops"], statistics.median(w["tflops"] for w in held)
    out: dict[str, Any] = {"window_count": len(windows), "first_tflops": first, "sustained_tflops": sustained,
                           "sustained_over_first": sustained / first}
    sampled = [w["clocks"] for w in held if (w.get("clocks") or {}).get("samples")]
    if sampled:
        out["sustained_sm_mhz_median"] = statistics.median(c["sm_mhz_median"] for c in sampled)
        out["sustained_power_w_median"] = statistics.median(c["power_w_median"] for c in sampled)
        out["throttle_reasons"] = sorted({r for c in sampled for r in c["throttle_reasons"]})
    return out


def measure_sustained(torch: Any, device: Any, shapes: list[tuple[int, int, int]], seconds: float,
                      window_s: float) -> list[dict[str, Any]]:
    """Each GEMM of `shapes`, in BF16 and (where supported) FP8, run back to back for `seconds`:
    on a GPU as repeated replays of one CUDA graph of GRAPH_CALLS calls over operand copies
    larger than the L2 cache, timed with CUDA events in windows of `window_s` while nvidia-smi
    samples the clocks and power of each window; off a GPU, eager calls timed on the host.
    Each row lists its windows (start [s] from the first, calls, TFLOP/s = 2 M N K calls / time)
    and their `sustained_summary`."""
    cuda, rows = device.type == "cuda", []
    dtype = torch.bfloat16 if cuda else torch.float32
    for m, n, k in shapes:
        a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
        sets = _operand_sets(torch, device, (a, b))
        variants: list[tuple[str, list[Callable[[], Any]]]] = [
            ("bf16" if cuda else "fp32", [lambda x=x, y=y: x @ y for x, y in sets])]
        fp8 = fp8_gemm(torch, device, m)
        if fp8 is not None:
            convert, multiply = fp8
            variants.append(("fp8", [lambda x=x, y=y: multiply(x, y) for x, y in (convert(p, q) for p, q in sets)]))
        for precision, calls in variants:
            try:
                windows = _sustained_windows(torch, device, calls, 2.0 * m * n * k, seconds, window_s)
            except RuntimeError as exc:
                rows.append({"precision": precision, "m": m, "n": n, "k": k, "error": str(exc)[:200]})
                continue
            rows.append({"precision": precision, "m": m, "n": n, "k": k, "seconds": seconds, "window_s": window_s,
                         "windows": windows, **sustained_summary(windows)})
        del sets, variants
        if cuda:
            torch.cuda.empty_cache()
    return rows


def _sustained_windows(torch: Any, device: Any, calls: list[Callable[[], Any]], flops: float, seconds: float,
                       window_s: float) -> list[dict[str, Any]]:
    """The timed windows of `measure_sustained` for one GEMM (`calls`, one per operand set)."""
    cuda = device.type == "cuda"
    if cuda:
        def burst() -> None:
            for i in range(GRAPH_CALLS):
                calls[i % len(calls)]()
        step, per_step = _graphed(torch, burst), GRAPH_CALLS
        step()
        torch.cuda.synchronize(device)
    else:
        step, per_step = calls[0], 1
        step()
    windows: list[dict[str, Any]] = []
    clocks: dict[str, Any] = {}
    begin = time.perf_counter()
    while time.perf_counter() - begin < seconds:
        start_s, steps = time.perf_counter() - begin, 0
        sampler = clock_sampler(device.index or 0, clocks, "window") if cuda else contextlib.nullcontext()
        with sampler:
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < window_s or steps == 0:
                step()
                steps += 1
                if cuda:
                    # One replay in flight at a time: the host waits on the GPU, so a window's
                    # host time and its GPU time cover the same calls.
                    torch.cuda.current_stream(device).synchronize()
            if cuda:
                end.record()
                end.synchronize()
                elapsed = start.elapsed_time(end) / 1e3
            else:
                elapsed = time.perf_counter() - t0
        window = {"start_s": start_s, "calls": steps * per_step, "seconds": elapsed,
                  "tflops": flops * steps * per_step / elapsed / 1e12}
        if cuda:
            window["clocks"] = clocks.pop("window", None)
        windows.append(window)
    return windows


def gemm_kernel_names(torch: Any, device: Any, shapes: list[tuple[int, int, int]],
                      names: Callable[..., dict[str, int] | None] = _gpu_kernel_names) -> dict[str, Any]:
    """The GPU kernels one BF16 (and, on a GPU that has it, FP8) GEMM of each M x N x K shape
    launches, by name (`names`, the profiler's trace): cuBLAS names carry the thread-block tile
    it picked for that shape (e.g. "tilesize64x128x64"), the evidence a tile-quantization term
    rests on. Keys "bf16 MxNxK" and "fp8 MxNxK"; each None where the device cannot be traced."""
    out: dict[str, Any] = {}
    for m, n, k in shapes:
        a = torch.randn(m, k, device=device, dtype=torch.bfloat16)
        b = torch.randn(k, n, device=device, dtype=torch.bfloat16)
        out[f"bf16 {m}x{n}x{k}"] = names(torch, device, lambda: a @ b)
        fp8 = fp8_gemm(torch, device, m)
        if fp8 is not None:
            convert, multiply = fp8
            a8, b8 = convert(a, b)
            out[f"fp8 {m}x{n}x{k}"] = names(torch, device, lambda: multiply(a8, b8))
            del a8, b8
        del a, b
    return out


def measure_kernel_counts(torch: Any, device: Any, cfg: dict[str, int], context: int, batches: list[int],
                          size: int, gemms: list[tuple[int, int, int]] | None = None) -> dict[str, Any]:
    """GPU kernels (and memory copies and sets) one eager call launches, counted by the PyTorch
    profiler: each `decode_operators` operator and one decode step of `llama_like` with
    `context` cached tokens at each decode batch, and one torchvision ResNet-50 pass at batch 1
    in each layout, with its kernels by name (`resnet50_batch1_kernels`): which operators
    launch more than one; and the kernels by name of each GEMM shape in `gemms`
    (`gemm_kernels`, `gemm_kernel_names`). Run after every timed section: tracing the device
    may leave hooks behind that slow later launches. Empty off a GPU."""
    if device.type != "cuda":
        return {}
    import torchvision  # noqa: PLC0415 (optional dependency)

    dtype = torch.bfloat16
    out: dict[str, Any] = {"decode_operators": {}, "llama_decode_step": {}, "resnet50_batch1": {},
                           "resnet50_batch1_kernels": {}, "gemm_kernels": gemm_kernel_names(torch, device, gemms or [])}
    with torch.inference_mode():
        for batch in batches:
            ops = decode_operators(torch, cfg, batch, context, device, dtype)
            out["decode_operators"][str(batch)] = {name: _gpu_kernels(torch, device, lambda: call(*operands))
                                                   for name, (call, operands, _) in ops.items()}
        model = llama_like(torch, cfg, device, dtype)
        for batch in batches:
            cache = kv_caches(torch, cfg, batch, context + 1, device, dtype)
            ids = torch.randint(0, cfg["vocab"], (batch, 1), device=device)
            out["llama_decode_step"][str(batch)] = _gpu_kernels(torch, device, lambda: model(ids, cache, context))
            del cache
        del model
        torch.cuda.empty_cache()
        with torch.device(device):
            resnet = torchvision.models.resnet50(weights=None)
        resnet = resnet.to(dtype=torch.float16).eval()
        for layout, benchmark in LAYOUTS:
            with _layout(torch, layout, benchmark) as fmt:
                resnet = resnet.to(memory_format=fmt)
                x = torch.randn(1, 3, size, size, device=device, dtype=torch.float16).contiguous(memory_format=fmt)
                names = _gpu_kernel_names(torch, device, lambda: resnet(x))
                out["resnet50_batch1"][layout] = None if names is None else sum(names.values())
                out["resnet50_batch1_kernels"][layout] = names
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every requested section; a section that cannot run (no fp8, no torchvision) is recorded
    under `skipped` with the reason."""
    import torch  # noqa: PLC0415

    device = torch.device(args.device)
    info = {"type": device.type, "torch": torch.__version__, "python": platform.python_version()}
    if device.type == "cuda":
        prop = torch.cuda.get_device_properties(device)
        info.update(name=prop.name, sms=prop.multi_processor_count, memory_bytes=prop.total_memory,
                    l2_cache_bytes=getattr(prop, "L2_cache_size", None),
                    capability=f"{prop.major}.{prop.minor}", cuda=torch.version.cuda,
                    cudnn=torch.backends.cudnn.version(), cudnn_benchmark=torch.backends.cudnn.benchmark,
                    clock_settings=clock_settings(device.index or 0))
    shapes = plan(args.quick)
    report = new_report(info, args.quick, args.commit)
    steps = {
        "gemm": lambda: measure_gemm(torch, device, shapes["gemm"], args.iters),
        "bandwidth": lambda: measure_bandwidth(torch, device, shapes["copy_bytes"], args.iters),
        "attention": lambda: measure_attention(torch, device, shapes["attention"], args.iters),
        "launch": lambda: measure_launch(torch, device, shapes["launches"], args.iters),
        "dispatch": lambda: measure_dispatch(torch, device, shapes["dispatch_calls"], args.iters),
        "conv": lambda: [row for batch in shapes["conv_batches"]
                         for row in measure_conv(torch, device, batch, shapes["conv_size"], max(args.iters // 2, 1))],
        "elementwise": lambda: [row for batch in shapes["conv_batches"]
                                for row in measure_elementwise(torch, device, batch, shapes["conv_size"],
                                                               max(args.iters // 2, 1))],
        "decode_kernels": lambda: measure_decode_kernels(torch, device, shapes["llama"], shapes["prompt"],
                                                         shapes["decode_batches"], args.iters),
        "llama": lambda: measure_llama(torch, device, shapes["llama"], shapes["prompt"], shapes["decode_tokens"],
                                       shapes["decode_batches"], args.iters),
        "llama_hf": lambda: measure_llama_hf(torch, device, shapes["llama"], shapes["prompt"], shapes["decode_tokens"],
                                             args.iters),
        "resnet": lambda: measure_resnet(torch, device, shapes["resnet_batches"], shapes["resnet_size"], args.iters),
        "resnet_train": lambda: measure_resnet_training(torch, device, shapes["train_batches"], shapes["resnet_size"],
                                                        max(args.iters // 2, 2)),
        "sustained": lambda: measure_sustained(torch, device, shapes["sustained"], shapes["sustained_seconds"],
                                               shapes["sustained_window_s"]),
        "kernel_counts": lambda: measure_kernel_counts(torch, device, shapes["llama"], shapes["prompt"],
                                                       shapes["decode_batches"], shapes["resnet_size"], shapes["gemm"]),
    }
    sampled = device.type == "cuda"
    if sampled:
        report["clocks"] = {}
    for name in args.only:
        sampler = (clock_sampler(device.index or 0, report["clocks"], name) if sampled
                   else contextlib.nullcontext())
        try:
            with sampler:
                report[name] = steps[name]()
        except (ImportError, RuntimeError, TypeError, ValueError) as exc:
            report["skipped"][name] = f"{type(exc).__name__}: {exc}"[:300]
        if device.type == "cuda":
            torch.cuda.empty_cache()
    report["finished"] = time.time()
    return report


def _graphed_text(row: dict[str, Any]) -> str:
    """The printed note of a row's CUDA-graph timing, if it has one."""
    graph = row.get("graph")
    if not graph:
        return ""
    if "error" in graph:
        return f" (graph failed: {graph['error']})"
    weights = f", {graph['weight_bytes_per_s'] / 1e12:.2f} TB/s of weights" if "weight_bytes_per_s" in graph else ""
    return f" ({graph['tflops']:.1f} TFLOP/s in a graph{weights})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    problems = check_report(report)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2)
    for row in report["gemm"]:
        if "error" in row:
            print(f"GEMM {row['precision']:>5} {row['m']}x{row['n']}x{row['k']}: failed ({row['error']})")
            continue
        print(f"GEMM {row['precision']:>5} {row['m']}x{row['n']}x{row['k']}: {row['tflops']:.1f} TFLOP/s{_graphed_text(row)}")
    if report["bandwidth"]:
        print(f"copy bandwidth: {report['bandwidth']['bytes_per_s'] / 1e9:.0f} GB/s")
    for row in report["attention"]:
        print(f"attention {row['phase']} B{row['batch']} S{row['tokens']}: {row['tflops']:.1f} TFLOP/s{_graphed_text(row)}")
    if report["launch"]:
        graph = report["launch"].get("graph")
        in_graph = f"; {graph['per_kernel_s'] * 1e6:.2f} us per kernel in a CUDA graph" if graph else ""
        print(f"kernel launch: {report['launch']['per_launch_s'] * 1e6:.2f} us per launch{in_graph}")
    for name, row in report.get("dispatch", {}).items():
        if isinstance(row, dict):
            print(f"eager dispatch {name}: {row['per_call_s'] * 1e6:.2f} us per call")
    for row in report.get("elementwise", []):
        graph = row.get("graph") or {}
        in_graph = f" ({graph['bytes_per_s'] / 1e12:.2f} TB/s in a graph)" if "bytes_per_s" in graph else ""
        print(f"{row['kind']} {row['channels']}x{row['height']}x{row['width']} batch {row['batch']} {row['layout']}: "
              f"{row['bytes_per_s'] / 1e12:.2f} TB/s{in_graph}")
    for row in report.get("conv", []):
        print(f"conv {row['in_channels']}->{row['out_channels']} k{row['kernel']} s{row['stride']} "
              f"{row['height']}x{row['width']} batch {row['batch']} {row['layout']}: {row['tflops']:.1f} TFLOP/s{_graphed_text(row)}")
    for row in report.get("decode_kernels", []):
        graph = row.get("graph") or {}
        in_graph = f", {graph['median_s'] * 1e6:.2f} us in a graph" if "median_s" in graph else ""
        print(f"decode {row['operator']} batch {row['batch']}: {row['median_s'] * 1e6:.2f} us{in_graph}")
    if report["llama"]:
        ll = report["llama"]
        graphed = f" ({ll['prefill_graph']['median_s'] * 1e3:.2f} ms graphed)" if ll.get("prefill_graph") else ""
        print(f"Llama-shaped ({ll['parameters'] / 1e9:.2f} B params): prefill {ll['prompt_tokens']} tokens "
              f"{ll['prefill']['median_s'] * 1e3:.2f} ms{graphed}, decode {ll['decode_per_token_s'] * 1e3:.2f} ms/token")
        for g in ll["decode_graph"]:
            print(f"  graphed decode step, batch {g['batch']}: {g['median_s'] * 1e3:.2f} ms, {g['tokens_per_s']:.0f} tokens/s")
    if report["llama_hf"]:
        hf = report["llama_hf"]
        print(f"transformers LlamaForCausalLM: prefill {hf['prompt_tokens']} tokens {hf['prefill']['median_s'] * 1e3:.2f} ms, "
              f"decode {hf['decode_step']['median_s'] * 1e3:.2f} ms/token")
    for row in report["resnet"]:
        graph = f"; graphed {row['graph']['median_s'] * 1e3:.2f} ms" if "graph" in row else ""
        print(f"ResNet-50 {row.get('layout', 'nchw')} batch {row['batch']}: {row['median_s'] * 1e3:.2f} ms, "
              f"{row['images_per_s']:.0f} images/s{graph}")
    for row in report.get("resnet_train", []):
        print(f"ResNet-50 training step ({row['precision']}) batch {row['batch']}: {row['median_s'] * 1e3:.2f} ms "
              f"(forward and loss {row['forward']['median_s'] * 1e3:.2f} ms), {row['images_per_s']:.0f} images/s")
    for row in report.get("sustained", []):
        if "error" in row:
            print(f"sustained GEMM {row['precision']} {row['m']}x{row['n']}x{row['k']}: failed ({row['error']})")
            continue
        clock = (f", SM {row['sustained_sm_mhz_median']:.0f} MHz at {row['sustained_power_w_median']:.0f} W held"
                 if "sustained_sm_mhz_median" in row else "")
        print(f"sustained GEMM {row['precision']} {row['m']}x{row['n']}x{row['k']} for {row['seconds']:g} s: "
              f"{row['first_tflops']:.1f} TFLOP/s in the first window, {row['sustained_tflops']:.1f} held "
              f"({row['sustained_over_first']:.3f} of the first){clock}")
    for name, counts in report.get("kernel_counts", {}).items():
        if not name.endswith("_kernels"):  # the by-name lists (ResNet-50's, each GEMM's) stay in the JSON
            print(f"GPU kernels per call, {name}: {counts}")
    settings = report["device"].get("clock_settings") or {}
    if "error" not in settings and settings:
        print("clock settings: " + ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                                               for k, v in settings.items()))
    for name, clocks in report.get("clocks", {}).items():
        if clocks.get("samples"):
            print(f"clocks during {name}: SM {clocks['sm_mhz_median']:.0f} MHz median ({clocks['sm_mhz_min']:.0f} lowest), "
                  f"{clocks['power_w_median']:.0f} W median, throttle reasons {', '.join(clocks['throttle_reasons'])}")
    for name, why in report["skipped"].items():
        print(f"skipped {name}: {why}")
    for p in problems:
        print(f"report problem: {p}")
    print(f"wrote {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
