"""Speed of the fleet solvers on their own: one DistributedModel solve, one
SystemEvaluator.evaluate (the reference tool's seed call), and a full parallel-layout
search on 16,384 GPUs (target: under 1 s).

The ratio against the reference (target: at least 100x per call) is measured, not
assumed: `python scripts/bench_upstream.py --only fleet` times PyPI mlsysim 0.3.0's
DistributedModel and SystemEvaluator on the same cases in its own virtualenv.

    python scripts/bench_fleet.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time
import timeit

def per_call(fn, number: int, repeat: int) -> float:
    fn()  # warm: catalog loaded, per-input setup cached
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    from mlsysim import Assumptions, Hardware, Models, Systems
    from mlsysim.evaluate.evaluator import SystemEvaluator
    from mlsysim.solvers.distributed import DistributedModel

    gpt3, llama8, llama405 = Models.Language.GPT3, Models.Language.Llama3_8B, Models.Language.Llama3_1_405B
    h100 = Hardware.Cloud.H100
    frontier, research, mega = Systems.Clusters.Frontier_8K, Systems.Clusters.Research_256, Systems.Clusters.Mega_100K
    eff = Assumptions.MFU_Megatron_1T
    print(f"{'import + catalog load':<52} {time.perf_counter() - start:8.3f} s")

    dm = DistributedModel()
    solve = per_call(lambda: dm.solve(gpt3, frontier, 1536, "bf16", eff, 8, 12, devices=1536, recompute="full"),
                     2000, args.repeat)
    print(f"{'DistributedModel.solve (GPT-3, 1536 GPUs)':<52} {solve * 1e6:8.1f} us")

    seed = per_call(lambda: SystemEvaluator.evaluate(
        scenario_name="seed", model_obj=llama8, hardware_obj=h100, batch_size=256, precision="bf16",
        efficiency=0.45, fleet_obj=research, nodes=256, duration_days=30.0), 500, args.repeat)
    print(f"{'SystemEvaluator.evaluate (seed call, Research_256)':<52} {seed * 1e6:8.1f} us")

    explicit = per_call(lambda: SystemEvaluator.evaluate(
        "explicit", llama8, None, 256, "bf16", 0.45, research, 256, 30.0,
        parallelism={"tp": 2, "pp": 1, "zero": 1, "recompute": "selective"}), 500, args.repeat)
    print(f"{'SystemEvaluator.evaluate (explicit layout)':<52} {explicit * 1e6:8.1f} us")
    print("(ratios against the measured reference: python scripts/bench_upstream.py --only fleet)")

    runs = []
    for _ in range(args.repeat):
        llama405._catalog.clear_derived()  # time the search from the catalog, not from memoised terms
        t = time.perf_counter()
        result = dm.search(llama405, mega, 2048, "bf16", eff, devices=16384, seq_len=8192)
        best = result.best()
        runs.append(time.perf_counter() - t)
    verdict = "OK" if min(runs) < 1.0 else "OVER the 1 s target"
    print(f"{'search: all layouts, Llama 3.1 405B on 16,384 GPUs':<52} {min(runs) * 1e3:8.1f} ms  "
          f"({len(result)} layouts, {result.feasible_count} fit; best TP{best.tp} PP{best.pp} DP{best.dp} "
          f"mb{best.microbatch} v{best.interleave} ZeRO-{best.zero} {best.recompute}, MFU {best.mfu:.1%})  {verdict}")


if __name__ == "__main__":
    main()
