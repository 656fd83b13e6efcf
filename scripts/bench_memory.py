#!/usr/bin/env python3
"""Memory held by loaded catalogs: does dropping a Catalog free what its solves derived?

    python scripts/bench_memory.py [--rounds 30]

Each round loads the catalog afresh (`load_catalog()`, a new Catalog instance), runs one
solve of each kind on it (roofline, serving, training, the scorecard with its reliability,
energy and cost terms), drops every reference and prints the process's resident memory.
The derived terms live on the Catalog (`Catalog.derived`), so the last round must end
within 5 MB of the first; exits 1 when it does not.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
from pathlib import Path

LIMIT_MB = 5.0


def rss_mb() -> float:
    """Current resident set size [MB] (Linux /proc; else the peak from getrusage)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_round() -> None:
    from mlsysim import Engine, load_catalog
    from mlsysim.evaluate.evaluator import SystemEvaluator
    from mlsysim.solvers.serving import ServingModel

    catalog = load_catalog()
    model = catalog.get("models", "llama3_8b")
    Engine.solve(model, catalog.get("hardware", "h100_sxm"), batch_size=8)
    ServingModel(model, catalog.get("nodes", "dgx_h100"), tp=2).solve()
    SystemEvaluator.evaluate("seed", model, batch_size=256, precision="bf16", efficiency=0.45,
                             fleet_obj=catalog.get("clusters", "research_256"), nodes=256, duration_days=30.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    sizes = []
    for i in range(args.rounds):
        one_round()
        gc.collect()
        sizes.append(rss_mb())
        print(f"round {i + 1:3d}: RSS {sizes[-1]:7.1f} MB")
    growth = sizes[-1] - sizes[0]
    verdict = "OK" if growth <= LIMIT_MB else f"OVER the {LIMIT_MB:g} MB limit"
    print(f"first {sizes[0]:.1f} MB, last {sizes[-1]:.1f} MB, growth {growth:+.1f} MB: {verdict}")
    return 0 if growth <= LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
