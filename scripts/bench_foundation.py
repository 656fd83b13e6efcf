"""Start-up and validation speed of the foundation, measured in fresh processes.

Targets (issue: foundation): `import mlsysim; mlsysim.Hardware.Cloud.H100` in at
most 0.3 s; `mlsysim catalog validate` on the bundled catalog in at most 1 s.

    python scripts/bench_foundation.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT_AND_LOOKUP = "import mlsysim; mlsysim.Hardware.Cloud.H100.memory.bandwidth.si"


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def series(cmd: list[str], env: dict[str, str], runs: int, cold_cache: Path | None = None) -> list[float]:
    out = []
    for _ in range(runs):
        if cold_cache is not None:
            shutil.rmtree(cold_cache, ignore_errors=True)
        out.append(timed(cmd, env))
    return out


def report(label: str, seconds: list[float], target: float | None) -> None:
    med = statistics.median(seconds)
    verdict = "" if target is None else ("  OK" if med <= target else f"  OVER target {target:.2f} s")
    print(f"{label:<48} median {med * 1000:7.1f} ms  min {min(seconds) * 1000:7.1f} ms  (n={len(seconds)}){verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="mlsysim-bench-cache-"))
    env = {**os.environ, "MLSYSIM_CACHE_DIR": str(cache)}
    env.pop("MLSYSIM_CATALOG", None)
    cli = [sys.executable, "-m", "mlsysim"]
    python = [sys.executable, "-c"]

    timed(python + ["pass"], env)  # warm the OS file cache and .pyc files
    report("python -c pass (interpreter floor)", series(python + ["pass"], env, args.runs), None)
    report("import + Hardware.Cloud.H100, cold cache", series(python + [IMPORT_AND_LOOKUP], env, args.runs, cold_cache=cache), None)
    timed(python + [IMPORT_AND_LOOKUP], env)
    report("import + Hardware.Cloud.H100, warm cache", series(python + [IMPORT_AND_LOOKUP], env, args.runs), 0.3)
    report("mlsysim catalog validate, cold cache", series(cli + ["catalog", "validate"], env, args.runs, cold_cache=cache), None)
    timed(cli + ["catalog", "validate"], env)
    report("mlsysim catalog validate, warm cache", series(cli + ["catalog", "validate"], env, args.runs), 1.0)
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
