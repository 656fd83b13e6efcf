"""Warm start-up of the CLI: `mlsysim eval Llama3_8B H100`, timed from outside.

Target (issue #14): under 0.25 s warm. Each run is a fresh process (interpreter start,
imports, catalog load from a warm validation cache, the solve, the printing); one
untimed run first warms the cache and the OS's file cache. Prints the best and the
median of N runs, the load average (a busy machine inflates every figure; measure at
low load), and which heavy modules the command imported (dask, mcp, matplotlib, numpy,
pydantic, rich, typer): eval must never import dask or mcp.

    python scripts/bench_cli.py [--runs N] [--catalog DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

TARGET_S = 0.25
COMMAND = ["eval", "Llama3_8B", "H100"]
NEVER = ("dask", "mcp")  # heavy dependencies of other commands
WATCHED = ("dask", "mcp", "matplotlib", "jinja2", "numpy", "pydantic", "rich", "typer", "requests", "ruamel", "pint")

_PROBE = """
import sys
sys.argv = ["mlsysim", *sys.argv[1:]]
try:
    from mlsysim.cli import main
    code = main(sys.argv[1:])
finally:
    loaded = sorted({m.split('.')[0] for m in sys.modules})
    sys.stderr.write("\\nMODULES " + " ".join(loaded) + "\\n")
"""


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU user+sys) seconds of one fresh process; CPU time is what a busy machine inflates least."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imported(args: list[str], env: dict[str, str]) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], env=env, capture_output=True, text=True, check=True)
    line = next(l for l in done.stderr.splitlines() if l.startswith("MODULES "))
    return set(line.split()[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--catalog", help="catalog directory (default: as the CLI finds it)")
    ns = parser.parse_args()
    args = [*COMMAND, *(["--catalog", ns.catalog] if ns.catalog else [])]
    env = dict(os.environ)
    # The console script, as a user runs it (`mlsysim ...`); else `python -m mlsysim`.
    script = os.path.join(os.path.dirname(sys.executable), "mlsysim")
    argv = [script, *args] if os.path.exists(script) else [sys.executable, "-m", "mlsysim", *args]
    run_once(argv, env)  # cold: fills the validation cache
    bare = [run_once([sys.executable, "-c", "pass"], env)[0] for _ in range(5)]
    runs = [run_once(argv, env) for _ in range(ns.runs)]
    times, cpu = [w for w, _ in runs], [c for _, c in runs]
    load = os.getloadavg()
    best, median = min(times), statistics.median(times)
    print(f"command: {' '.join(argv)}")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"bare interpreter start: best {min(bare) * 1e3:.0f} ms")
    print(f"warm runs: {ns.runs}, best {best * 1e3:.0f} ms, median {median * 1e3:.0f} ms "
          f"(target < {TARGET_S * 1e3:.0f} ms: {'met' if best < TARGET_S else 'NOT met'} by the best, "
          f"{'met' if median < TARGET_S else 'not met'} by the median)")
    print(f"CPU time (user+sys) per run: best {min(cpu) * 1e3:.0f} ms, median {statistics.median(cpu) * 1e3:.0f} ms")
    loaded = imported(args, env)
    print("heavy modules imported: " + (", ".join(m for m in WATCHED if m in loaded) or "none"))
    bad = [m for m in NEVER if m in loaded]
    if bad:
        print(f"FAIL: eval imported {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
