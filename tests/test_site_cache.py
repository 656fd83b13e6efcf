"""mlsysim/site/cache.py: what one zoo build hands the next (charts, display-unit factors),
never a different site, never a failed build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from site_helpers import TODAY


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _no_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the build draws a chart, here or in a worker process."""
    from mlsysim.site import build

    def refuse(*args, **kwargs):
        raise AssertionError("a chart was drawn although the cache holds it")

    def start(drawing):
        if drawing.jobs:
            refuse()

    monkeypatch.setattr(build, "ChartMaker", refuse)
    monkeypatch.setattr(build._Drawing, "start", start)


def test_a_rebuild_from_the_cache_is_byte_identical_and_draws_nothing(fixture_catalog, tmp_path, monkeypatch):
    from mlsysim.site.build import build_site

    monkeypatch.setenv("MLSYSIM_CACHE_DIR", str(tmp_path / "cache"))
    first = build_site(tmp_path / "first", fixture_catalog, today=TODAY)
    assert (tmp_path / "cache" / "site-charts.json").is_file()
    _no_drawing(monkeypatch)
    again = build_site(tmp_path / "again", fixture_catalog, today=TODAY)
    assert again.charts == first.charts == first.drawn == 3 and again.drawn == 0
    assert _files(tmp_path / "again") == _files(tmp_path / "first")


def test_a_rebuild_imports_neither_matplotlib_nor_pint(fixture_catalog, tmp_path):
    """The point of the cache: a fresh process whose chart inputs did not change draws nothing
    and imports neither matplotlib nor pint."""
    script = (
        "import sys, datetime\n"
        "from mlsysim.site.build import build_site\n"
        f"report = build_site(sys.argv[1], {str(fixture_catalog)!r}, today=datetime.date.fromisoformat({TODAY.isoformat()!r}))\n"
        "print(report.drawn, sorted(m for m in ('matplotlib', 'pint') if m in sys.modules))\n"
    )
    env = {**os.environ, "MLSYSIM_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("MLSYSIM_CATALOG", None)
    runs = [subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], env=env, capture_output=True, text=True, check=True)
            for name in ("first", "again")]
    assert runs[0].stdout.startswith("3 ") and "pint" in runs[0].stdout  # validated and drew everything
    assert runs[1].stdout.strip() == "0 []"
    assert _files(tmp_path / "again") == _files(tmp_path / "first")


def test_charts_drawn_in_a_worker_process_equal_those_drawn_here(fixture_catalog, tmp_path, monkeypatch):
    import subprocess

    from mlsysim.site import build

    started = []
    real_popen = subprocess.Popen

    def popen(args, **kwargs):
        started.append(args)
        return real_popen(args, **kwargs)

    monkeypatch.setattr(build, "_cpus", lambda: 2)
    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(build, "ChartMaker", None)  # nothing drawn in this process
    monkeypatch.setenv("MLSYSIM_CACHE_DIR", str(tmp_path / "cache-worker"))
    assert build.build_site(tmp_path / "worker", fixture_catalog, today=TODAY).drawn == 3
    assert started == [[sys.executable, "-m", "mlsysim.site.charts"]]
    monkeypatch.undo()

    def no_worker(*args, **kwargs):
        raise AssertionError("a worker process was started on a one-CPU machine")

    monkeypatch.setattr(build, "_cpus", lambda: 1)
    monkeypatch.setattr(subprocess, "Popen", no_worker)
    monkeypatch.setenv("MLSYSIM_CACHE_DIR", str(tmp_path / "cache-here"))
    assert build.build_site(tmp_path / "here", fixture_catalog, today=TODAY).drawn == 3
    assert _files(tmp_path / "worker") == _files(tmp_path / "here")


@pytest.mark.parametrize("worker", ["cannot start", "exits with an error", "writes garbage"])
def test_a_worker_that_cannot_start_or_fails_means_drawing_here(fixture_catalog, tmp_path, monkeypatch, worker):
    import subprocess

    from mlsysim.site import build

    reference = tmp_path / "reference"
    monkeypatch.setenv("MLSYSIM_CACHE_DIR", str(tmp_path / "cache-reference"))
    build.build_site(reference, fixture_catalog, today=TODAY)

    real_popen = subprocess.Popen
    commands = {"exits with an error": [sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit(3)"],
                "writes garbage": [sys.executable, "-c", "import sys; sys.stdin.read(); print('not a pickle')"]}

    def popen(args, **kwargs):
        if worker == "cannot start":
            raise OSError("no processes here")
        return real_popen(commands[worker], **kwargs)

    monkeypatch.setattr(build, "_cpus", lambda: 2)
    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setenv("MLSYSIM_CACHE_DIR", str(tmp_path / "cache"))
    assert build.build_site(tmp_path / "site", fixture_catalog, today=TODAY).drawn == 3
    assert _files(tmp_path / "site") == _files(reference)


def test_a_failed_build_stops_its_chart_worker(fixture_catalog, tmp_path, monkeypatch):
    import subprocess

    from mlsysim.site import build

    workers = []
    real_popen = subprocess.Popen

    def popen(args, **kwargs):
        workers.append(real_popen(args, **kwargs))
        return workers[-1]

    def broken_export(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build, "_cpus", lambda: 2)
    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(build.exports, "provenance_json", broken_export)
    monkeypatch.setenv("MLSYSIM_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match="disk full"):
        build.build_site(tmp_path / "site", fixture_catalog, today=TODAY)
    assert len(workers) == 1 and workers[0].returncode is not None  # stopped and waited for
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []  # no site, no staging directory


def test_a_chart_is_drawn_again_when_any_input_changes_and_stale_entries_are_dropped(tmp_path):
    from mlsysim.site.cache import BuildCache
    from mlsysim.site.charts import Peak

    drawn: list[tuple] = []

    def drawer(args):
        return lambda: drawn.append(args) or f"<svg>{len(drawn)}</svg>"

    path = tmp_path / "site-charts.json"
    args = ("FX100", [Peak("FP16", 1e15)], 4e12)
    cache = BuildCache(path)
    assert cache.chart("roofline", args, drawer(args)) == "<svg>1</svg>"
    cache.chart("roofline", ("Old", [Peak("FP16", 1e15)], 1e12), drawer(()))
    cache.save()

    cache = BuildCache(path)
    assert cache.chart("roofline", args, drawer(args)) == "<svg>1</svg>" and len(drawn) == 2
    nudged = ("FX100", [Peak("FP16", 1e15)], 4e12 * (1 + 2 ** -52))  # one ulp: a different chart
    assert cache.chart("roofline", nudged, drawer(nudged)) == "<svg>3</svg>"
    assert cache.chart("grid_intensity", args, drawer(args)) == "<svg>4</svg>"  # another kind, same arguments
    assert (cache.hits, cache.misses) == (1, 2)
    cache.save()
    stored = json.loads(path.read_bytes().partition(b"\n")[2])
    assert not any(key.startswith("roofline('Old'") for key in stored["charts"])  # only what this build used
    assert len(stored["charts"]) == 3


def test_factors_are_the_unit_registrys_and_are_remembered(tmp_path, monkeypatch):
    from mlsysim.catalog import units
    from mlsysim.site.cache import BuildCache

    path = tmp_path / "site-charts.json"
    cache = BuildCache(path)
    assert cache.factor("gCO2e/kWh", "carbon_intensity") == units.to_canonical(1.0, "gCO2e/kWh", "carbon_intensity")
    assert cache.factor("TFLOP/s", "compute_rate") == pytest.approx(1e12)
    cache.save()

    def refuse(*args):
        raise AssertionError("pint consulted for a remembered factor")

    monkeypatch.setattr(units, "to_canonical", refuse)
    assert BuildCache(path).factor("TFLOP/s", "compute_rate") == pytest.approx(1e12)


@pytest.mark.parametrize("damage", ["flipped byte", "other code", "group-writable", "not json", "a directory"])
def test_a_damaged_or_foreign_cache_is_ignored(fixture_catalog, tmp_path, monkeypatch, damage):
    from mlsysim.site import cache as cache_module
    from mlsysim.site.build import build_site

    monkeypatch.setenv("MLSYSIM_CACHE_DIR", str(tmp_path / "cache"))
    build_site(tmp_path / "first", fixture_catalog, today=TODAY)
    path = tmp_path / "cache" / "site-charts.json"
    blob = path.read_bytes()
    if damage == "flipped byte":
        i = blob.index(b"<svg") + 10
        path.write_bytes(blob[:i] + bytes([blob[i] ^ 1]) + blob[i + 1:])
    elif damage == "other code":
        monkeypatch.setattr(cache_module, "code_fingerprint", lambda: "0" * 32)
    elif damage == "group-writable":
        path.chmod(0o664)
    elif damage == "not json":
        path.write_bytes(b"mlsysim-site-cache 00\n{")
    else:
        path.unlink()
        path.mkdir()
    assert cache_module.BuildCache(path).chart("roofline", (), lambda: "drawn") == "drawn"
    build_site(tmp_path / "again", fixture_catalog, today=TODAY)
    assert _files(tmp_path / "again") == _files(tmp_path / "first")


def test_a_cache_that_cannot_be_written_does_not_fail_the_build(fixture_catalog, tmp_path, monkeypatch):
    from mlsysim.site.build import build_site

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would be\n")
    monkeypatch.setenv("MLSYSIM_CACHE_DIR", str(blocker / "cache"))
    report = build_site(tmp_path / "site", fixture_catalog, today=TODAY)
    assert report.charts == 3 and (tmp_path / "site" / "charts" / "roofline-fx100.svg").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-directory", "site"]


def test_saving_leaves_no_temporary_file(tmp_path):
    from mlsysim.site.cache import BuildCache

    cache = BuildCache(tmp_path / "site-charts.json")
    cache.chart("roofline", ("A",), lambda: "<svg/>")
    cache.save()
    assert [p.name for p in tmp_path.iterdir()] == ["site-charts.json"]
    assert (tmp_path / "site-charts.json").stat().st_mode & 0o022 == 0
