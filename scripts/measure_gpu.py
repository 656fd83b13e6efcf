"""Microbenchmarks of one GPU, for the inference assumptions of mlsysim (run where a GPU is).

    python scripts/measure_gpu.py --out gpu.json            # full run, < 5 minutes on an H100/H200
    python scripts/measure_gpu.py --device cpu --quick      # tiny smoke run of the bookkeeping

Measures, and prints and writes as JSON (schema SCHEMA below):
- dense GEMM throughput by shape and precision (bf16; fp8 via torch._scaled_mm where the
  GPU and PyTorch support it), as TFLOP/s = 2 M N K / time;
- achieved memory bandwidth of a large device-to-device copy (bytes read + written / time);
- attention throughput (torch scaled_dot_product_attention): prefill (causal, S x S) and
  decode (1 query over a KV cache of S tokens), as TFLOP/s and bytes/s of the KV read;
- kernel launch cost: the time per launch of back-to-back tiny kernels;
- a randomly initialised Llama-3-8B-shaped decoder built from its config (no download):
  prefill latency of a prompt and per-token decode latency with a KV cache;
- a torchvision ResNet-50 (random weights) batch sweep: latency and images/s per batch.

Library code is in functions over plain values; only `main` prints. torch (and torchvision
for the ResNet sweep) are imported lazily, so the argument parsing and the JSON bookkeeping
run (and are tested) without them.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any, Callable

SCHEMA = "mlsysim-gpu-measurements/1"
SECTIONS = ("gemm", "bandwidth", "attention", "launch", "llama", "resnet")

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
    args = p.parse_args(argv)
    if args.iters < 1:
        p.error("--iters must be >= 1")
    return args


def plan(quick: bool) -> dict[str, Any]:
    """The shapes each section measures: full sizes for a GPU, tiny ones with `quick`."""
    if quick:
        return {"gemm": [(64, 64, 64), (128, 64, 32)], "copy_bytes": 1 << 20, "attention": [(1, 2, 64, 16)],
                "launches": 50, "llama": LLAMA_TINY, "prompt": 16, "decode_tokens": 4, "resnet_batches": [1, 2],
                "resnet_size": 64}
    return {"gemm": [(m, 8192, 8192) for m in (1, 16, 128, 1024, 8192)] + [(4096, 14336, 4096), (4096, 4096, 14336)],
            "copy_bytes": 2 << 30, "attention": [(1, 32, 2048, 128), (8, 32, 4096, 128)],
            "launches": 2000, "llama": LLAMA3_8B, "prompt": 512, "decode_tokens": 32,
            "resnet_batches": [1, 2, 4, 8, 16, 32, 64, 128, 256], "resnet_size": 224}


def summary(times: list[float]) -> dict[str, float]:
    """Median, minimum and mean of `times` [s] (the median is the figure to use)."""
    s = sorted(times)
    n = len(s)
    median = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
    return {"median_s": median, "min_s": s[0], "mean_s": sum(s) / n, "iters": n}


def new_report(device: dict[str, Any], quick: bool) -> dict[str, Any]:
    """An empty report: what ran where, and one list or dict per section."""
    return {"schema": SCHEMA, "quick": quick, "host": platform.node(), "started": time.time(), "device": device,
            "gemm": [], "bandwidth": {}, "attention": [], "launch": {}, "llama": {}, "resnet": [], "skipped": {}}


def check_report(report: dict[str, Any]) -> list[str]:
    """Problems with a report's shape (empty if none): every section present with its type,
    every measured time positive."""
    problems = []
    if report.get("schema") != SCHEMA:
        problems.append(f"schema is {report.get('schema')!r}, expected {SCHEMA!r}")
    for name, kind in (("gemm", list), ("bandwidth", dict), ("attention", list), ("launch", dict),
                       ("llama", dict), ("resnet", list), ("skipped", dict), ("device", dict)):
        if not isinstance(report.get(name), kind):
            problems.append(f"{name} must be a {kind.__name__}")
    for row in report.get("gemm", []) + report.get("attention", []) + report.get("resnet", []):
        if "error" not in row and not row.get("median_s", 0) > 0:
            problems.append(f"non-positive time in {row}")
    return problems


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


def measure_gemm(torch: Any, device: Any, shapes: list[tuple[int, int, int]], iters: int) -> list[dict[str, Any]]:
    """Dense GEMM C[M,N] = A[M,K] B[K,N]: TFLOP/s = 2 M N K / median time, bf16 and fp8."""
    timed, rows = _timer(torch, device), []
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    for m, n, k in shapes:
        a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
        s = summary(timed(lambda: a @ b, iters))
        rows.append({"precision": "bf16" if dtype == torch.bfloat16 else "fp32", "m": m, "n": n, "k": k, **s,
                     "tflops": 2.0 * m * n * k / s["median_s"] / 1e12})
        fp8 = getattr(torch, "float8_e4m3fn", None)
        if device.type == "cuda" and fp8 is not None and hasattr(torch, "_scaled_mm") and m % 16 == 0:
            try:
                a8 = a.to(fp8)
                b8 = b.t().contiguous().to(fp8).t()  # column-major second operand
                one = torch.tensor(1.0, device=device)
                s8 = summary(timed(lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16), iters))
                rows.append({"precision": "fp8", "m": m, "n": n, "k": k, **s8,
                             "tflops": 2.0 * m * n * k / s8["median_s"] / 1e12})
            except (RuntimeError, TypeError) as exc:
                rows.append({"precision": "fp8", "m": m, "n": n, "k": k, "error": str(exc)[:200]})
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
    K and V read = 2 B H S D x bytes per element."""
    F = torch.nn.functional
    timed, rows = _timer(torch, device), []
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    size = 2 if dtype == torch.bfloat16 else 4
    for b, h, s_len, d in shapes:
        q, k, v = (torch.randn(b, h, s_len, d, device=device, dtype=dtype) for _ in range(3))
        pre = summary(timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), iters))
        rows.append({"phase": "prefill", "batch": b, "heads": h, "tokens": s_len, "head_dim": d, **pre,
                     "tflops": 2.0 * b * h * s_len * s_len * d / pre["median_s"] / 1e12})
        q1 = q[:, :, -1:, :]
        dec = summary(timed(lambda: F.scaled_dot_product_attention(q1, k, v), iters))
        rows.append({"phase": "decode", "batch": b, "heads": h, "tokens": s_len, "head_dim": d, **dec,
                     "tflops": 4.0 * b * h * s_len * d / dec["median_s"] / 1e12,
                     "kv_bytes_per_s": 2.0 * b * h * s_len * d * size / dec["median_s"]})
    return rows


def measure_launch(torch: Any, device: Any, launches: int, iters: int) -> dict[str, Any]:
    """Cost per launch of back-to-back tiny kernels (an add on one element): time / launches."""
    x = torch.zeros(1, device=device)

    def burst() -> None:
        for _ in range(launches):
            x.add_(1.0)
    s = summary(_timer(torch, device)(burst, max(iters // 4, 1)))
    return {"launches": launches, **s, "per_launch_s": s["median_s"] / launches}


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

    return Model().to(device=device, dtype=dtype).eval()


def measure_llama(torch: Any, device: Any, cfg: dict[str, int], prompt: int, steps: int, iters: int) -> dict[str, Any]:
    """Prefill latency of a `prompt`-token request and the mean per-token decode latency of
    `steps` tokens after it, batch 1, on the randomly initialised model of shape `cfg`."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = llama_like(torch, cfg, device, dtype)
    hd = cfg["hidden"] // cfg["heads"]
    caches = [[torch.zeros(1, cfg["kv_heads"], prompt + steps + 1, hd, device=device, dtype=dtype) for _ in range(2)]
              for _ in range(cfg["layers"])]
    ids = torch.randint(0, cfg["vocab"], (1, prompt), device=device)
    timed = _timer(torch, device)
    with torch.inference_mode():
        pre = summary(timed(lambda: model(ids, caches, 0), max(iters // 4, 1)))
        one = ids[:, :1]

        def decode() -> None:
            for i in range(steps):
                model(one, caches, prompt + i)
        dec = summary(timed(decode, max(iters // 10, 1)))
    params = sum(p.numel() for p in model.parameters())
    return {"config": cfg, "parameters": params, "prompt_tokens": prompt, "prefill": pre,
            "decode_tokens": steps, "decode_per_token_s": dec["median_s"] / steps}


def measure_resnet(torch: Any, device: Any, batches: list[int], size: int, iters: int) -> list[dict[str, Any]]:
    """torchvision ResNet-50 (random weights, eval mode, eager), latency and images/s per batch."""
    import torchvision  # noqa: PLC0415 (optional dependency)

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    model = torchvision.models.resnet50(weights=None).to(device=device, dtype=dtype).eval()
    timed, rows = _timer(torch, device), []
    with torch.inference_mode():
        for b in batches:
            x = torch.randn(b, 3, size, size, device=device, dtype=dtype)
            s = summary(timed(lambda: model(x), max(iters // 2, 1)))
            rows.append({"batch": b, "image_size": size, "precision": str(dtype).replace("torch.", ""), **s,
                         "images_per_s": b / s["median_s"]})
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every requested section; a section that cannot run (no fp8, no torchvision) is recorded
    under `skipped` with the reason."""
    import torch  # noqa: PLC0415

    device = torch.device(args.device)
    info = {"type": device.type, "torch": torch.__version__}
    if device.type == "cuda":
        prop = torch.cuda.get_device_properties(device)
        info.update(name=prop.name, sms=prop.multi_processor_count, memory_bytes=prop.total_memory)
    shapes = plan(args.quick)
    report = new_report(info, args.quick)
    steps = {
        "gemm": lambda: measure_gemm(torch, device, shapes["gemm"], args.iters),
        "bandwidth": lambda: measure_bandwidth(torch, device, shapes["copy_bytes"], args.iters),
        "attention": lambda: measure_attention(torch, device, shapes["attention"], args.iters),
        "launch": lambda: measure_launch(torch, device, shapes["launches"], args.iters),
        "llama": lambda: measure_llama(torch, device, shapes["llama"], shapes["prompt"], shapes["decode_tokens"], args.iters),
        "resnet": lambda: measure_resnet(torch, device, shapes["resnet_batches"], shapes["resnet_size"], args.iters),
    }
    for name in args.only:
        try:
            report[name] = steps[name]()
        except (ImportError, RuntimeError) as exc:
            report["skipped"][name] = f"{type(exc).__name__}: {exc}"[:300]
    report["finished"] = time.time()
    return report


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
        print(f"GEMM {row['precision']:>5} {row['m']}x{row['n']}x{row['k']}: {row['tflops']:.1f} TFLOP/s")
    if report["bandwidth"]:
        print(f"copy bandwidth: {report['bandwidth']['bytes_per_s'] / 1e9:.0f} GB/s")
    for row in report["attention"]:
        print(f"attention {row['phase']} B{row['batch']} S{row['tokens']}: {row['tflops']:.1f} TFLOP/s")
    if report["launch"]:
        print(f"kernel launch: {report['launch']['per_launch_s'] * 1e6:.2f} us per launch")
    if report["llama"]:
        ll = report["llama"]
        print(f"Llama-shaped ({ll['parameters'] / 1e9:.2f} B params): prefill {ll['prompt_tokens']} tokens "
              f"{ll['prefill']['median_s'] * 1e3:.2f} ms, decode {ll['decode_per_token_s'] * 1e3:.2f} ms/token")
    for row in report["resnet"]:
        print(f"ResNet-50 batch {row['batch']}: {row['median_s'] * 1e3:.2f} ms, {row['images_per_s']:.0f} images/s")
    for name, why in report["skipped"].items():
        print(f"skipped {name}: {why}")
    for p in problems:
        print(f"report problem: {p}")
    print(f"wrote {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
