"""Throughput and memory of the design-space search (mlsysim.solvers.dse).

Prints:
  1. configurations/s of the single-node roofline space on numpy (one process);
  2. configurations/s of the same search on a 2-worker Dask LocalCluster (threads and processes);
  3. the peak resident memory (RSS) of a 1e8-point streamed search, measured in a fresh child
     process, next to what holding the whole space would take.

    python scripts/bench_dse.py                 # all three
    python scripts/bench_dse.py --points 2e7 --progress
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_NUMPY = 1e6  # configurations/s the issue asks of numpy on the roofline space


def roofline_dse(points: float, chunk: int):
    """A roofline space of about `points` rows: Llama 3 8B on H100 and A100 at fp16 and fp8
    (3 systems with a peak), batch 1..B, sequence length 1..S."""
    import numpy as np

    from mlsysim import Hardware, Models
    from mlsysim.solvers.dse import DSE, roofline_space

    systems = 3
    seq_count = 1024
    batch_count = max(1, int(round(points / (systems * seq_count))))
    space, model = roofline_space(Models.Language.Llama3_8B, [Hardware.Cloud.H100, Hardware.Cloud.A100],
                                  precisions=["fp16", "fp8"], batch_sizes=np.arange(1, batch_count + 1),
                                  seq_lens=np.arange(1, seq_count + 1))
    return DSE(space, {"latency": "min", "throughput": "max"}, ["memory_usage <= memory_capacity"], model=model,
               chunk_size=chunk)


def timed(dse, progress: bool, **run):
    bar = None
    callback = None
    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                       TimeRemainingColumn())
        task = bar.add_task(run.get("scheduler") or "numpy", total=dse.space.size)
        bar.start()

        def callback(done: int, total: int) -> None:
            bar.update(task, completed=done)

    start, cpu = time.perf_counter(), time.process_time()
    try:
        front = dse.run(progress=callback, **run)
    finally:
        if bar is not None:
            bar.stop()
    timed.cpu = time.process_time() - cpu  # CPU seconds of this process (the wall time suffers on a shared machine)
    return front, time.perf_counter() - start


def child(points: float, chunk: int) -> None:
    """Run one streamed search and print its figures as JSON (peak RSS of this process)."""
    import threading

    dse = roofline_dse(points, chunk)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # peak so far: imports and catalog load
    start_rss = _current_rss_kib()
    samples = [start_rss]
    done = threading.Event()

    def sample() -> None:  # the search's own peak, sampled every 5 ms
        while not done.wait(0.005):
            samples.append(_current_rss_kib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    front, seconds = timed(dse, False)
    done.set()
    sampler.join()
    print(json.dumps({"points": dse.space.size, "seconds": seconds, "cpu_seconds": timed.cpu, "front": len(front),
                      "rss_loaded_peak_kib": loaded, "rss_before_search_kib": start_rss,
                      "rss_search_peak_kib": max(samples), "rss_process_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "columns": len(front.columns)}))


def _current_rss_kib() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() // 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=float, default=2e7, help="rows of the throughput runs (default 2e7)")
    parser.add_argument("--dask-points", type=float, default=4e6, help="rows of the Dask runs (default 4e6)")
    parser.add_argument("--stream-points", type=float, default=1e8, help="rows of the memory run (default 1e8)")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per chunk")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    parser.add_argument("--skip", nargs="*", default=[], choices=["numpy", "dask", "memory"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.stream_points, args.chunk)
        return 0

    reference = None
    if "numpy" not in args.skip:
        dse = roofline_dse(args.points, args.chunk)
        timed(roofline_dse(3 * 1024, args.chunk), False)  # warm-up: imports, catalog terms
        front, seconds = timed(dse, args.progress)
        rate = dse.space.size / seconds
        print(f"numpy, 1 process: {dse.space.size:,} configurations in {seconds:.2f} s = {rate:,.0f} configurations/s "
              f"(target >= {TARGET_NUMPY:,.0f}: {'met' if rate >= TARGET_NUMPY else 'NOT met'}); "
              f"{timed.cpu:.2f} CPU s = {dse.space.size / timed.cpu:,.0f} configurations per CPU second; front {len(front)} rows; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        reference = rate
    if "dask" not in args.skip:
        dse = roofline_dse(args.dask_points, args.chunk)
        local, local_s = timed(dse, False)
        for processes in (False, True):
            front, seconds = timed(dse, args.progress, scheduler="local", workers=2, processes=processes)
            same = all((front[k] == local[k]).all() for k in local.columns)
            kind = "processes" if processes else "threads"
            print(f"dask LocalCluster, 2 workers ({kind}): {dse.space.size:,} configurations in {seconds:.2f} s "
                  f"(cluster start-up included) = {dse.space.size / seconds:,.0f} configurations/s; "
                  f"numpy on the same space {dse.space.size / local_s:,.0f}/s; same front: {same}")
    if "memory" not in args.skip:
        cmd = [sys.executable, __file__, "--child", "--stream-points", str(args.stream_points), "--chunk", str(args.chunk)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        data = json.loads(out)
        whole = data["points"] * data["columns"] * 8
        mib = lambda kib: f"{kib / 1024:,.0f} MiB"  # noqa: E731
        print(f"streamed search of {data['points']:,} configurations (chunks of {args.chunk:,}): {data['seconds']:.1f} s "
              f"({data['points'] / data['seconds']:,.0f}/s; {data['cpu_seconds']:.1f} CPU s), front {data['front']} rows; RSS before the search "
              f"{mib(data['rss_before_search_kib'])}, peak during it {mib(data['rss_search_peak_kib'])} (sampled every 5 ms), "
              f"process peak {mib(data['rss_process_peak_kib'])} (catalog loading peaked at {mib(data['rss_loaded_peak_kib'])}); "
              f"holding the whole space as {data['columns']} float64 columns would take {whole / 2**30:,.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
