#!/usr/bin/env python3
"""Speed and agreement against the field's reference, PyPI mlsysim==0.3.0.

The reference has the same import name, so it is installed into its own virtualenv
(never into this project's) and every measurement runs in a subprocess:

    python scripts/bench_upstream.py [--venv DIR] [--repeat N]

Prints: fresh-process import + one solve (median wall time), Engine.solve per call,
sweep configurations per second, the ratios, and both tools' answers on the same cases.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE = "mlsysim==0.3.0"

QUICK_START = (
    "from mlsysim import Engine, Models, Hardware\n"
    "p = Engine.solve(model=Models.Language.Llama3_8B, hardware=Hardware.Cloud.H100, batch_size=1, precision='fp16')\n"
)

PER_CALL = """
import json, time
from mlsysim import Engine, Models, Hardware
m, h = Models.Language.Llama3_8B, Hardware.Cloud.H100
Engine.solve(model=m, hardware=h, batch_size=8, precision='fp16')
n, best = {n}, float('inf')
for _ in range(5):
    t = time.perf_counter()
    for _ in range(n):
        Engine.solve(model=m, hardware=h, batch_size=8, precision='fp16')
    best = min(best, (time.perf_counter() - t) / n)
print(json.dumps(best))
"""

OURS_SWEEP = """
import json, time
from mlsysim import Engine, Models, Hardware
hw = [Hardware.get(n) for n in ('H100', 'H200', 'A100', 'B200', 'MI300X', 'L4')]
m = Models.Language.Llama3_8B
Engine.sweep(m, hw[:1])
best = float('inf')
for _ in range(3):
    t = time.perf_counter()
    table = Engine.sweep(m, hw, batch_sizes=list(range(1, 1025)), precisions=['fp16', 'bf16'], seq_lens=list(range(1, 8193, 64)))
    best = min(best, time.perf_counter() - t)
print(json.dumps(len(table) / best))
"""

REF_SWEEP = """
import json, time, warnings
warnings.simplefilter('ignore')
from mlsysim import Engine, Models, Hardware
hw = [Hardware.Cloud.H100, Hardware.Cloud.A100]
m = Models.Language.Llama3_8B
t = time.perf_counter()
rows = Engine.sweep(m, hw, batch_sizes=list(range(1, 101)), precisions=['fp16', 'bf16'])
print(json.dumps(400 / (time.perf_counter() - t)))
"""

# (registry group, model, hardware, batch, precision): cases both tools name the same way.
CASES = [
    ("Language", "Llama3_8B", "H100", 1, "fp16"),
    ("Language", "Llama3_8B", "H100", 64, "fp16"),
    ("Language", "Llama3_8B", "H100", 1024, "fp16"),
    ("Language", "Llama3_70B", "H100", 1, "fp16"),
    ("Language", "Llama3_8B", "A100", 1, "fp16"),
    ("Vision", "ResNet50", "T4", 32, "int8"),
    ("Vision", "ResNet50", "A100", 256, "fp16"),
]

AGREE = """
import json, warnings
warnings.simplefilter('ignore')
from mlsysim import Engine, Models, Hardware
out = []
for group, model, hw, batch, precision in {cases!r}:
    p = Engine.solve(model=getattr(getattr(Models, group), model), hardware=getattr(Hardware.Cloud, hw),
                     batch_size=batch, precision=precision)
    mem = p.memory_usage if hasattr(p, 'memory_usage') else p.memory_footprint
    out.append([model, hw, batch, precision, p.latency.to('ms').magnitude, p.bottleneck, mem.to('GB').magnitude])
print(json.dumps(out))
"""


def _run(python: str, code: str, env: dict[str, str] | None = None) -> str:
    # Run outside the repository: `python -c` puts the working directory first on
    # sys.path, where this project's `mlsysim` would shadow the reference's.
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, check=False,
                          cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise SystemExit(f"subprocess failed ({python}):\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def _fresh(python: str, repeat: int, env: dict[str, str] | None = None) -> float:
    _run(python, QUICK_START, env)  # warm caches (ours: the validated catalog; theirs: bytecode)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        _run(python, QUICK_START + "print('ok')", env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _reference_python(venv: Path) -> str:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing {REFERENCE} into {venv} (its own virtualenv) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", REFERENCE], check=True)
    version = _run(str(python), "import importlib.metadata as m; print(m.version('mlsysim'))")
    if version != REFERENCE.split("==")[1]:
        raise SystemExit(f"{venv} holds mlsysim {version}, not {REFERENCE}; pass another --venv")
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "mlsysim-upstream-0.3.0",
                        help="virtualenv for the reference (created if missing)")
    parser.add_argument("--repeat", type=int, default=5, help="fresh-process runs per tool (median)")
    args = parser.parse_args()

    ref = _reference_python(args.venv)
    ours = sys.executable
    ref_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLSYSIM_CATALOG")}

    ours_fresh, ref_fresh = _fresh(ours, args.repeat), _fresh(ref, args.repeat, ref_env)
    ours_call = json.loads(_run(ours, PER_CALL.format(n=20000)))
    ref_call = json.loads(_run(ref, PER_CALL.format(n=200), ref_env))
    ours_sweep = json.loads(_run(ours, OURS_SWEEP))
    ref_sweep = json.loads(_run(ref, REF_SWEEP, ref_env))

    print(f"\n{'measure':<44}{'ours':>14}{'mlsysim 0.3.0':>16}{'ratio':>10}")
    print(f"{'fresh process: import + one solve [ms]':<44}{ours_fresh * 1e3:>14.1f}{ref_fresh * 1e3:>16.1f}{ref_fresh / ours_fresh:>9.1f}x")
    print(f"{'Engine.solve per call [us]':<44}{ours_call * 1e6:>14.2f}{ref_call * 1e6:>16.1f}{ref_call / ours_call:>9.0f}x")
    print(f"{'sweep [configurations/s]':<44}{ours_sweep:>14.3g}{ref_sweep:>16.3g}{ours_sweep / ref_sweep:>9.0f}x")

    ours_rows = json.loads(_run(ours, AGREE.format(cases=CASES)))
    ref_rows = json.loads(_run(ref, AGREE.format(cases=CASES), ref_env))
    print(f"\n{'case (one pass, 1 token per sequence)':<34}{'ours ms':>10}{'ref ms':>10}{'ref/ours':>9}  {'bottleneck ours/ref':<20}{'memory GB ours/ref'}")
    for o, r in zip(ours_rows, ref_rows):
        label = f"{o[0]} {o[1]} b{o[2]} {o[3]}"
        print(f"{label:<34}{o[4]:>10.3f}{r[4]:>10.3f}{r[4] / o[4]:>9.2f}  {o[5] + '/' + r[5]:<20}{o[6]:.3g}/{r[6]:.3g}")
    print("""
Why the answers differ (the reference's physics shortcuts):
- Memory traffic: the reference charges weights x (1 + 0.1 x batch) per pass, a per-sample
  heuristic; ours reads the weights once plus the KV cache. At large batch the reference's
  traffic grows without bound, so an LLM step stays memory-bound there while ours turns compute-bound.
- Efficiency: the reference derates compute by a fixed 0.5 and uses 100% of peak bandwidth; ours
  uses cited assumptions (76% prefill MFU, Pope et al. 2022; 88% of peak HBM bandwidth, measured).
- Overheads: the reference adds a per-device dispatch tax and a per-layer 'framework tax'; ours
  adds only cited fixed costs: a CUDA kernel launch (about 3 us, NVIDIA developer forum) per kernel
  counted from the architecture, on NVIDIA GPUs (and NCCL's all-reduce latency with tensor parallelism).
- FLOPs: the reference counts 2 x parameters per token; ours counts 2 x non-embedding weights plus
  attention over the context (Kaplan et al. 2020).
- GEMM shape: ours stretches the weight GEMMs' compute time by their tile and wave quantization
  on the GPU's SMs (cited SM counts; NVIDIA's Matrix Multiplication Background guide, 256 x 128
  tiles), which matters when a pass has few tokens; the reference has no such term.
- Infeasible configurations: when the weights do not fit, the reference prices all traffic at a
  host-offload (PCIe) bandwidth and still returns a latency (Llama 3 70B on one H100); ours marks
  the result infeasible (feasible=False; `mlsysim eval` exits 2) and keeps the HBM roofline.
- Catalog: hardware and model figures come from each tool's own catalog (e.g. H100 FP16 peak,
  Llama 3 8B parameter count), so small differences also come from the inputs.""")


if __name__ == "__main__":
    main()
