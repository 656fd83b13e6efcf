#!/usr/bin/env python3
"""Speed and agreement against the field's reference, PyPI mlsysim==0.3.0.

The reference has the same import name, so it is installed into its own virtualenv
(never into this project's) and every measurement runs in a subprocess:

    python scripts/bench_upstream.py [--venv DIR] [--repeat N]

Prints: fresh-process import + one solve (median wall time), Engine.solve per call,
sweep configurations per second, DistributedModel.solve and SystemEvaluator.evaluate per
call (the issue-5 seed call and fixed-layout training cases), the ratios, and both tools'
answers on the same cases.

Per-call times are the best of 5 loops of n calls in one warm process (the first call,
which loads the catalog and fills the per-input caches, is not timed), as for Engine.solve.
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


# ---------------------------------------------------------------------------- fleet (issue 5)

# (model, cluster, global batch, TP, PP, microbatches per pipeline, full recomputation, sequence):
# 3D-parallel training steps both tools can state. The reference names the number of
# microbatches m; ours the microbatch size b = batch / (DP x m).
FLEET_CASES = [
    ("Llama3_8B", "Research_256", 256, 1, 1, 1, False, 2048),
    ("Llama3_70B", "Production_2K", 512, 8, 4, 8, True, 4096),
    ("GPT3", "Frontier_8K", 1536, 8, 8, 12, True, 2048),
]

# The issue-5 seed call. Per-call times hoist the record lookups out of the loop (as the
# Engine.solve figures do); the "as typed" row keeps `Models.Language.Llama3_8B` etc. inline.
SEED_ARGS = ("scenario_name='seed', model_obj={m}, hardware_obj={h}, batch_size=256, precision='bf16', "
             "efficiency=0.45, fleet_obj={c}, nodes=256, duration_days={days}")
NAMED = {"m": "Models.Language.Llama3_8B", "h": "Hardware.Cloud.H100", "c": "Systems.Clusters.Research_256"}
HOISTED = {"m": "M8", "h": "H100", "c": "R256"}

FLEET_PRELUDE = """
import itertools, json, time, warnings
warnings.simplefilter('ignore')
from mlsysim import Models, Hardware, Systems
M8, H100, R256 = Models.Language.Llama3_8B, Hardware.Cloud.H100, Systems.Clusters.Research_256
def best(f, n):
    f()
    b = float('inf')
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            f()
        b = min(b, (time.perf_counter() - t) / n)
    return b
out = {{"solve": [], "answers": []}}
days = itertools.cycle([30.0 + i / 1000 for i in range(100000)])
"""

REF_FLEET = FLEET_PRELUDE + """
from mlsysim.solvers import DistributedModel
from mlsysim.engine.evaluation import SystemEvaluator
dm = DistributedModel()
for model, cluster, batch, tp, pp, m, full, seq in {cases!r}:
    M, C = getattr(Models.Language, model), getattr(Systems.Clusters, cluster)
    f = lambda: dm.solve(M, C, batch_size=batch, precision='bf16', efficiency=0.45, tp_size=tp, pp_size=pp,
                         microbatch_count=m, activation_recomputation=full, seq_len=seq)
    out["solve"].append(best(f, {n_solve}))
    r = f()
    out["answers"].append([r.step_latency_total.m_as('s'), r.effective_throughput.m_as('1/s') * seq,
                           r.node_profile.mfu * r.scaling_efficiency, r.node_profile.memory_footprint.m_as('GB'),
                           bool(r.node_profile.feasible)])
seed = lambda: SystemEvaluator.evaluate({seed})
out["seed"] = best(seed, {n_eval})
out["seed_typed"] = best(lambda: SystemEvaluator.evaluate({seed_typed}), {n_eval})
e = seed().to_dict()
out["seed_answer"] = [e["p_step_latency"] / 1e3, e["p_fleet_throughput"], e["p_mfu"], e["m_tco_usd"],
                      e["m_energy_cost"], e["m_carbon_footprint"], e["f_status"]]
single = lambda: SystemEvaluator.evaluate('single', M8, H100, 1, 'fp16', 0.5)
out["single"] = best(single, {n_eval})
e = single().to_dict()
out["single_answer"] = [e["p_latency"] / 1e3, e["f_memory_used_gb"], e["f_status"]]
print(json.dumps(out))
"""

OURS_FLEET = FLEET_PRELUDE + """
from mlsysim.evaluate.evaluator import SystemEvaluator
from mlsysim.solvers.distributed import DistributedModel
dm = DistributedModel()
for model, cluster, batch, tp, pp, m, full, seq in {cases!r}:
    M, C = getattr(Models.Language, model), getattr(Systems.Clusters, cluster)
    dp = C.node.accelerator_count.si * C.node_count // (tp * pp)
    f = lambda: dm.solve(M, C, batch, 'bf16', 0.45, tp, pp, seq_len=seq, microbatch=int(batch // dp // m),
                         recompute='full' if full else 'selective')
    out["solve"].append(best(f, {n_solve}))
    r = f()
    out["answers"].append([r.step_time, r.tokens_per_second, r.mfu, r.memory_total / 1e9, r.feasible])
# The seed call as is: "auto" parallelism searches every layout once per input (memoised).
seed = lambda: SystemEvaluator.evaluate({seed})
out["seed"] = best(seed, {n_eval})
out["seed_typed"] = best(lambda: SystemEvaluator.evaluate({seed_typed}), {n_eval})
# A different duration every call: no result is reused, only the catalog terms.
out["seed_fresh"] = best(lambda: SystemEvaluator.evaluate({seed_fresh}), {n_eval})
# An explicit layout (no search) and a fresh duration every call.
layout = dict(tp=1, pp=1, zero=1, recompute='full')
out["explicit"] = best(lambda: SystemEvaluator.evaluate({seed_fresh}, parallelism=layout, seq_len=2048), {n_eval})
e = seed().to_dict()
p, mac = e["performance"]["metrics"], e["macro"]["metrics"]
out["seed_answer"] = [p["step_time_s"], p["tokens_per_second"] / {seed_seq}, p["mfu"], mac.get("run_cost"),
                      mac.get("energy_cost"), mac["operational_carbon_t"] + mac["embodied_carbon_t"],
                      e["feasibility"]["status"], e["feasibility"]["metrics"]["layout"], {seed_seq}]
single = lambda: SystemEvaluator.evaluate('single', M8, H100, 1, 'fp16', 0.5)
out["single"] = best(single, {n_eval})
e = single().to_dict()
out["single_answer"] = [e["performance"]["metrics"]["latency_ms"] / 1e3, e["feasibility"]["metrics"]["weights_MB"] / 1e3,
                        e["feasibility"]["status"]]
print(json.dumps(out))
"""


def _fleet(ours: str, ref: str, ref_env: dict[str, str]) -> None:
    seed, typed = SEED_ARGS.format(days="30.0", **HOISTED), SEED_ARGS.format(days="30.0", **NAMED)
    o = json.loads(_run(ours, OURS_FLEET.format(cases=FLEET_CASES, n_solve=20000, n_eval=5000, seed=seed,
                                                seed_typed=typed, seed_fresh=SEED_ARGS.format(days="next(days)", **HOISTED),
                                                seed_seq=8192)))
    r = json.loads(_run(ref, REF_FLEET.format(cases=FLEET_CASES, n_solve=100, n_eval=100, seed=seed, seed_typed=typed),
                        ref_env))

    print(f"\n{'per call [us]':<62}{'ours':>10}{'mlsysim 0.3.0':>16}{'ratio':>9}")
    for case, t_o, t_r in zip(FLEET_CASES, o["solve"], r["solve"]):
        label = f"DistributedModel.solve {case[0]} {case[1]} TP{case[3]} PP{case[4]}"
        print(f"{label:<62}{t_o * 1e6:>10.2f}{t_r * 1e6:>16.1f}{t_r / t_o:>8.0f}x")
    rows = [("SystemEvaluator.evaluate seed call (auto layout, memoised)", o["seed"], r["seed"]),
            ("  same, as typed (registry lookups inside the call)", o["seed_typed"], r["seed_typed"]),
            ("  same, a new duration_days every call", o["seed_fresh"], r["seed"]),
            ("  same, explicit layout (no search), new duration each call", o["explicit"], r["seed"]),
            ("SystemEvaluator.evaluate one device (Llama 3 8B, H100)", o["single"], r["single"])]
    for label, t_o, t_r in rows:
        print(f"{label:<62}{t_o * 1e6:>10.2f}{t_r * 1e6:>16.1f}{t_r / t_o:>8.0f}x")

    print(f"\n{'training step (bf16, efficiency 0.45)':<44}{'step s ours/ref':>18}{'tokens/s ours/ref':>22}"
          f"{'MFU ours/ref':>16}{'GB/device ours/ref':>22}")
    for case, a, b in zip(FLEET_CASES, o["answers"], r["answers"]):
        label = f"{case[0]} {case[1]} TP{case[3]} PP{case[4]} m{case[5]}" + (" recompute" if case[6] else "")
        print(f"{label:<44}{a[0]:>8.3f} /{b[0]:>8.3f}{a[1]:>11.3g} /{b[1]:>9.3g}{a[2]:>7.1%} /{b[2]:>7.1%}"
              f"{a[3]:>10.1f}{'' if a[4] else '!'} /{b[3]:>7.1f}{'' if b[4] else '!'}")
    print("  (! = does not fit in the device's memory by that tool's model)")
    sa, sr = o["seed_answer"], r["seed_answer"]
    print("\nseed call, Llama 3 8B on Research_256 for 30 days")
    print(f"  {'layout (ours)':<28}{sa[7]}")
    print(f"  {'layout (mlsysim 0.3.0)':<28}TP1 x PP1 x DP256 (fixed)")
    print(f"  {'':<28}{'ours':<20}mlsysim 0.3.0")
    for label, mine, theirs in [("sequence length [tokens]", f"{sa[8]}", "2048 (default)"),
                                ("memory feasibility", sa[6], sr[6]),
                                ("step time [s]", f"{sa[0]:.4g}", f"{sr[0]:.4g}"),
                                ("sequences/s", f"{sa[1]:.4g}", f"{sr[1]:.4g}"),
                                ("MFU", f"{sa[2]:.3g}", f"{sr[2]:.3g}"),
                                ("cost of the 30 days [USD]", f"{sa[3]:,.0f}", f"{sr[3]:,.0f} (TCO)"),
                                ("energy cost [USD]", f"{sa[4]:,.0f}", f"{sr[4]:,.0f}"),
                                ("carbon [tCO2e]", f"{sa[5]:.4g}", f"{sr[5]:.4g}")]:
        print(f"  {label:<28}{mine:<20}{theirs}")
    print(f"\none device, Llama 3 8B on an H100, batch 1, fp16, efficiency 0.5: latency {o['single_answer'][0] * 1e3:.3f} ms "
          f"(ours) vs {r['single_answer'][0] * 1e3:.3f} ms (reference); weights {o['single_answer'][1]:.2f} GB vs "
          f"memory {r['single_answer'][1]:.2f} GB")
    print(FLEET_NOTES)


FLEET_NOTES = """
Why the fleet answers differ:
- Memory: the reference prices a training replica that does not fit (Llama 3 8B unsharded at TP1)
  at a PCIe offload bandwidth and returns a step time; ours marks it infeasible. The reference's
  SystemEvaluator skips memory feasibility on the distributed path (SKIPPED); ours checks it.
- Layout: the seed call has no parallelism argument. The reference always uses TP1 x PP1; ours
  searches every valid (TP, PP, DP, microbatch, interleave, ZeRO, recomputation) and keeps the
  fastest that fits (memoised per input). The explicit-layout row times the search-free path.
- Sequence: the reference defaults to 2,048 tokens per sequence; ours to the model's context
  (8,192 for Llama 3 8B), so a seed-call step carries 4x the tokens.
- Overheads: the reference adds a per-layer framework tax and dispatch tax, charges weight
  traffic x (1 + 0.1 x local batch), and counts 2 x parameters FLOPs per token; ours counts the
  transformer's FLOPs (attention, output layer, recomputation) and adds no fixed overhead.
- Communication: both price DP gradient all-reduces (ring, or hierarchical across nodes) and TP
  all-reduces of activations per layer (the reference 4; ours 4, or 6 with full recomputation, and
  per direction of each link as the catalog states it); ours also prices the pipeline sends and
  the interleaved bubble, and overlaps nothing unless asked.
- Macro: the reference's TCO is accelerators x its unit cost amortised over 3 years, plus
  maintenance on the full capex and energy at its own price, PUE and intensity (no embodied
  carbon, no failures). Ours: the H100s' cited unit cost (the DGX node states none) amortised
  over the 6-year replacement period (IDRIS, BLOOM), the cited maintenance ratio, the US-average
  grid's price and intensity with the industry-average data center's PUE (the cluster names no
  data center), embodied carbon, and the goodput lost to failures and checkpoints.
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
    parser.add_argument("--only", choices=("all", "single", "fleet"), default="all",
                        help="single-device cases (issue 4), fleet cases (issue 5), or both")
    args = parser.parse_args()

    ref = _reference_python(args.venv)
    ours = sys.executable
    ref_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLSYSIM_CATALOG")}
    if args.only == "fleet":
        _fleet(ours, ref, ref_env)
        return

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
Why the single-device answers differ (the reference's physics shortcuts):
- Memory traffic: the reference charges weights x (1 + 0.1 x batch) per pass, a per-sample
  heuristic; ours reads the weights once plus the KV cache, and each kernel's input and output
  activations where they leave the cited L2. At large batch the reference's traffic grows
  without bound, so an LLM step stays memory-bound there while ours turns compute-bound.
- Efficiency: the reference derates compute by a fixed 0.5 and uses 100% of peak bandwidth; ours
  uses cited per-accelerator, per-precision GEMM, attention and memory efficiencies where the
  catalog has them, else 76% prefill MFU (Pope et al. 2022) and 88% of peak HBM bandwidth (measured).
- Overheads: the reference adds a per-device dispatch tax and a per-layer 'framework tax'; ours
  adds only cited fixed costs: a kernel's fixed time per kernel counted from the architecture (a CUDA
  launch, about 3 us, NVIDIA developer forum, on NVIDIA GPUs; 1.93 us measured on the MI300X), and
  the all-reduce latency NCCL's model or RCCL's measurement gives with tensor parallelism.
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

    if args.only == "all":
        _fleet(ours, ref, ref_env)


if __name__ == "__main__":
    main()
