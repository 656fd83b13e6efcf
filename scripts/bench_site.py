"""How long `mlsysim site build` takes for the bundled catalog, charts included, and
how long the whole documentation site takes (`mlsysim site build --docs`).

Targets: the zoo alone under 3 s on a 2-core machine (issue: the zoo site); the whole
docs site, every tutorial executed, under 60 s (issue: documentation). Each run is a
fresh process (interpreter start, imports, catalog load from a warm validation cache,
every page, chart and export), timed from outside; one in-process zoo build is then
split into its phases. A rebuild copies the charts whose inputs did not change from
the build cache (mlsysim/site/cache.py); the cold figure is a build after the chart
cache was removed (the first build, or one after a change to the chart code), every
chart drawn with matplotlib. The docs build is timed `--docs-runs` times (default 1) with
CPU time (user + system, children included) next to the wall time, since a loaded
machine stretches wall time but not CPU time.

    python scripts/bench_site.py [--runs N] [--cold-runs N] [--docs-runs N] [--jobs N] [--no-docs]
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

TARGET_S = 3.0
DOCS_TARGET_S = 60.0


def build_once(out: Path, env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall seconds of one zoo build; its CPU seconds (user + system) are appended to `cpu`."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlsysim", "site", "build", "--out", str(out)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = os.times()
    if cpu is not None:
        cpu.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    return wall


def build_docs_once(out: Path, env: dict[str, str], jobs: int) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the build and the kernels it started) of one docs build."""
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlsysim", "site", "build", "--docs", "--jobs", str(jobs), "--out", str(out)],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = os.times()
    if done.returncode:
        raise SystemExit(f"docs build failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def phases(out: Path) -> dict[str, float]:
    """One build in this process, timed by phase (imports are already warm after the first)."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    import jinja2  # noqa: F401  (import cost is part of a build from a fresh process)

    from mlsysim.catalog import load_catalog
    from mlsysim.site import build

    timings["imports (jinja2, mlsysim.site)"] = time.perf_counter() - start
    start = time.perf_counter()
    catalog = load_catalog()
    timings["load catalog (warm cache)"] = time.perf_counter() - start
    original = build._charts

    def timed_charts(*args, **kwargs):
        t = time.perf_counter()
        result = original(*args, **kwargs)
        timings["charts (copied from the cache, or waited for)"] = time.perf_counter() - t
        return result

    original_labs = build.write_labs

    def timed_labs(*args, **kwargs):
        t = time.perf_counter()
        result = original_labs(*args, **kwargs)
        timings["labs (explorer export, waterfall solves)"] = time.perf_counter() - t
        return result

    original_finish = build._Drawing.finish

    def timed_finish(drawing):
        t = time.perf_counter()
        result = original_finish(drawing)
        timings["charts (copied from the cache, or waited for)"] += time.perf_counter() - t  # charts not in the cache, drawn in a worker during the pages
        return result

    build._charts = timed_charts
    build.write_labs = timed_labs
    build._Drawing.finish = timed_finish
    start = time.perf_counter()
    report = build.build_site(out, catalog)
    total = time.perf_counter() - start
    build._charts = original
    build.write_labs = original_labs
    build._Drawing.finish = original_finish
    timings["pages, exports and the rest"] = (total - timings["charts (copied from the cache, or waited for)"]
                                              - timings["labs (explorer export, waterfall solves)"])
    timings["_report"] = report  # type: ignore[assignment]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=3, help="builds timed after removing the chart cache")
    parser.add_argument("--docs-runs", type=int, default=1, help="docs builds to time (each executes every tutorial)")
    parser.add_argument("--jobs", type=int, default=1, help="Sphinx worker processes for the docs build")
    parser.add_argument("--no-docs", action="store_true", help="time the zoo only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlsysim-bench-site-"))
    env = {**os.environ, "MLSYSIM_CACHE_DIR": str(work / "cache")}
    env.pop("MLSYSIM_CATALOG", None)
    os.environ.update(MLSYSIM_CACHE_DIR=env["MLSYSIM_CACHE_DIR"])
    os.environ.pop("MLSYSIM_CATALOG", None)
    try:
        out = work / "site"
        build_once(out, env)  # warm the validation cache, .pyc files and the OS file cache
        cpu: list[float] = []
        seconds = [build_once(out, env, cpu) for _ in range(args.runs)]
        med = statistics.median(seconds)
        verdict = "OK" if med <= TARGET_S else f"OVER target {TARGET_S:.1f} s"
        print(f"mlsysim site build (fresh process, bundled catalog): median {med:.2f} s, "
              f"min {min(seconds):.2f} s, max {max(seconds):.2f} s (n={len(seconds)})  {verdict}")
        print(f"  CPU time (user + system) median {statistics.median(cpu):.2f} s; "
              f"load average after the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        if args.cold_runs > 0:
            cold, cold_cpu = [], []
            for _ in range(args.cold_runs):
                (work / "cache" / "site-charts.json").unlink(missing_ok=True)
                cold.append(build_once(out, env, cold_cpu))
            print(f"  cold chart cache (every chart drawn): median {statistics.median(cold):.2f} s, "
                  f"min {min(cold):.2f} s, max {max(cold):.2f} s (n={len(cold)}), "
                  f"CPU median {statistics.median(cold_cpu):.2f} s; load average {os.getloadavg()[0]:.1f}")
        timings = phases(out)
        report = timings.pop("_report")
        print(f"  {report.pages} pages, {report.charts} SVG charts ({report.drawn} drawn), {report.files} files, "
              f"{report.records} records, {report.values} cited values")
        for phase, t in timings.items():
            print(f"  {phase:<44} {t:6.2f} s")
        if not args.no_docs and args.docs_runs > 0:
            runs = [build_docs_once(work / "docs", env, args.jobs) for _ in range(args.docs_runs)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            verdict = "OK" if wall <= DOCS_TARGET_S else f"OVER target {DOCS_TARGET_S:.0f} s"
            print(f"mlsysim site build --docs --jobs {args.jobs} (fresh process, tutorials executed, zoo included): "
                  f"median {wall:.1f} s wall, {cpu:.1f} s CPU (n={len(runs)})  {verdict}")
            print(f"  load average while it ran: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
