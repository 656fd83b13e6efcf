"""Build the zoo site: render site_templates/ for one catalog into a static
directory that works from file:// and from any static host.

The site is rendered into a temporary directory next to the output and moved
into place only when complete, so a failed build never leaves a half-written
site (and never touches a directory that is not a site built here).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from mlsysim import __version__
from mlsysim.errors import MlsysimError
from mlsysim.catalog.paths import bundled_templates
from mlsysim.catalog.display import format_number
from mlsysim.site import exports
from mlsysim.site.badges import BADGE_MEANINGS, BADGE_STYLES, BadgeBook
from mlsysim.site.cache import BuildCache
from mlsysim.site.charts import Accelerator, ChartMaker, GridBar, Peak
from mlsysim.site.columns import KIND_TITLES
from mlsysim.site.freshness import freshness
from mlsysim.site.labs import write_labs
from mlsysim.site.markdown import render_block, render_inline
from mlsysim.site.safety import http_url, visible
from mlsysim.site.views import RecordView, SiteModel

MARKER = ".mlsysim-site"  # marks a directory this builder may replace: a small FILE whose text matches _SIGNATURE
_SIGNATURE = re.compile(r"built by mlsysim \S+ on [^\n]*`mlsysim site build` replaces this directory\n?")
# Staging (.NAME.*.tmp) and swapped-out (.NAME.old-PID) directories older than this were
# left by a killed build and are removed by the next one [s]; a build takes seconds.
STALE_AFTER = 3600.0


@dataclass(frozen=True)
class SiteReport:
    """What a build wrote."""

    out: Path
    pages: int
    charts: int
    records: int
    values: int
    files: int
    drawn: int = 0  # charts drawn by this build; the others were copied from the build cache


def build_site(
    out: str | os.PathLike[str],
    catalog: Any = None,
    *,
    templates: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    today: dt.date | None = None,
    docs_root: str | None = None,
) -> SiteReport:
    """Render the site for `catalog` (a Catalog, a catalog directory, or None for the default) into `out`.

    `docs_root` is the documentation site's root relative to the zoo's (e.g. "../" when the
    zoo is the docs site's `zoo/` section): every page's header then links back to the docs."""
    from mlsysim.catalog import Catalog, load_catalog

    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
    base = _base_url(base_url)
    out_dir = Path(out).expanduser().resolve()
    _check_replaceable(out_dir)
    template_dir = Path(templates) if templates else bundled_templates()
    if not (template_dir / "base.html").is_file():
        raise MlsysimError(f"{template_dir}: no site templates here (base.html missing); pass the site_templates directory")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        report = _render(cat, staging, template_dir, base, today or dt.date.today(), docs_root)
        staging.chmod(0o755)
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SiteReport(out_dir, *report)


def _base_url(base_url: str | None) -> str | None:
    if base_url is None:
        return None
    if http_url(base_url) is None:
        raise MlsysimError(f"--base-url {base_url!r}: not an http(s) URL; write e.g. 'https://example.org/mlsysim/'")
    return base_url if base_url.endswith("/") else base_url + "/"


def _check_replaceable(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not _is_marker(out_dir / MARKER))):
        raise MlsysimError(
            f"--out {out_dir}: exists and is not a site built by mlsysim (no {MARKER} file), so it is left alone; "
            "pass --out with a new or empty directory"
        )


def _is_marker(path: Path) -> bool:
    """Whether `path` is the marker file a build writes: a regular file (not a link, not a
    directory named so) whose few bytes say it was built by mlsysim."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 4096:
            return False
        return _SIGNATURE.fullmatch(path.read_text(encoding="utf-8", errors="replace")) is not None
    except OSError:
        return False


def _remove_stale(out_dir: Path) -> None:
    """Remove what killed builds of `out_dir` left beside it: staging and swapped-out
    directories named after it (see build_site and _swap_into_place) older than STALE_AFTER."""
    cutoff = time.time() - STALE_AFTER
    for pattern in (f".{out_dir.name}.*.tmp", f".{out_dir.name}.old-*"):
        for left in out_dir.parent.glob(pattern):
            try:
                if left.is_dir() and not left.is_symlink() and left.stat().st_mtime < cutoff:
                    shutil.rmtree(left, ignore_errors=True)
            except OSError:
                continue


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(staging, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _environment(template_dir: Path) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=True,  # every template, every string: YAML text is never trusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=visible,  # bidi overrides and control characters in catalog text are shown escaped
        auto_reload=False,  # one build, one set of templates: no stat() of the template file per page
    )
    env.filters["http_url"] = http_url
    env.filters["dash"] = lambda s: s if s not in (None, "") else "—"
    env.filters["md"] = render_block
    env.filters["md_inline"] = render_inline
    return env


class _Drawing:
    """The charts of one build: each copied from the build cache when it was drawn for the
    same inputs before, the others drawn while the pages render.

    With more than one CPU, the charts to draw go to one worker process
    (`python -m mlsysim.site.charts`, fed through a pipe; it shares no state with this
    one and re-runs nothing of it), where importing matplotlib and drawing overlap the
    page rendering here. With one CPU, or when the worker cannot start or fails, they
    are drawn here (so a chart's own error is raised here). `finish` writes them (into
    the staging directory, like every file) and remembers them in the cache; leaving the
    `with` block stops a worker still running.
    """

    def __init__(self, cache: BuildCache, write: Callable[[str, str | bytes], None]) -> None:
        self.cache = cache
        self.write = write
        self.jobs: list[tuple[str, str, tuple[Any, ...]]] = []  # (path in the site, ChartMaker method, arguments)
        self._worker: Any = None

    def __enter__(self) -> "_Drawing":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def add(self, rel: str, kind: str, *args: Any) -> None:
        svg = self.cache.get_chart(kind, args)
        if svg is None:
            self.jobs.append((rel, kind, args))
        else:
            self.write(rel, svg)

    def start(self) -> None:
        if not self.jobs or _cpus() < 2 or not sys.executable:
            return
        import pickle
        import subprocess

        import mlsysim

        package_root = str(Path(mlsysim.__file__).resolve().parent.parent)  # this mlsysim, not another installed one
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        try:
            self._worker = subprocess.Popen([sys.executable, "-m", "mlsysim.site.charts"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            self._worker.stdin.write(pickle.dumps([(kind, args) for _, kind, args in self.jobs]))
            self._worker.stdin.close()
        except OSError:  # no worker here: draw in this process
            self.close()

    def _from_worker(self) -> list[str] | None:
        import pickle

        try:
            out = self._worker.stdout.read()
            if self._worker.wait() != 0:
                return None
            svgs = pickle.loads(out)
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
            return None
        finally:
            self.close()
        ok = isinstance(svgs, list) and len(svgs) == len(self.jobs) and all(isinstance(svg, str) for svg in svgs)
        return svgs if ok else None

    def finish(self) -> int:
        """Write every chart not copied from the cache; returns how many were drawn."""
        if not self.jobs:
            return 0
        svgs = self._from_worker() if self._worker is not None else None
        if svgs is None:
            maker = ChartMaker()
            svgs = [getattr(maker, kind)(*args) for _, kind, args in self.jobs]
        for (rel, kind, args), svg in zip(self.jobs, svgs):
            self.cache.put_chart(kind, args, svg)
            self.write(rel, svg)
        return len(self.jobs)

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
            for stream in (worker.stdin, worker.stdout):
                if stream is not None and not stream.closed:
                    stream.close()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _render(cat: Any, out: Path, template_dir: Path, base_url: str | None, today: dt.date,
            docs_root: str | None = None) -> tuple[int, int, int, int, int, int]:
    cache = BuildCache()
    book = BadgeBook(cat, today)
    model = SiteModel(cat, book, cache.factor)
    env = _environment(template_dir)
    fresh = freshness(model)
    generated = today.isoformat()
    nav = [(k, KIND_TITLES.get(k, (k.capitalize(), ""))[0]) for k in model.kinds]
    common = {
        "site": model, "nav": nav, "base_url": base_url, "generated": generated, "version": __version__,
        "badge_styles": BADGE_STYLES, "badge_meanings": BADGE_MEANINGS, "fresh": fresh, "docs_root": docs_root,
    }
    files = 0
    folders = {out}  # made already: one mkdir per folder, not per file

    def write(rel: str, content: str | bytes) -> None:
        nonlocal files
        path = out / rel
        if path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        files += 1

    def page(rel: str, template: str, title: str, **context: Any) -> None:
        root = "../" * rel.count("/")
        canonical = base_url + rel if base_url else None
        html = env.get_template(template).render(**common, **context, root=root, page=rel, title=title, canonical=canonical)
        write(rel, html)

    with _Drawing(cache, write) as drawing:
        charts = _charts(model, drawing)
        drawing.start()

        pages = 0
        zoo_pages = {}
        for kind in model.kinds:
            zoo = model.zoo(kind)
            zoo.chart = charts.get(kind)
            zoo_pages[kind] = zoo
            page(f"{kind}/index.html", "zoo.html", zoo.title, zoo=zoo)
            write(f"{kind}/{kind}.csv", exports.zoo_csv(zoo))
            write(f"{kind}/{kind}.json", exports.zoo_json(zoo, generated))
            pages += 1
            for view in (v for group in zoo.groups for v in group.records):
                shields_url = None
                if base_url:
                    shields_url = "https://img.shields.io/endpoint?url=" + quote(base_url + view.badge_json, safe="")
                page(view.href, "record.html", f"{view.name} ({KIND_TITLES.get(kind, (kind,))[0]})", rec=view, shields_url=shields_url)
                write(view.badge_json, exports.shields_json(view))
                pages += 1
        page("index.html", "index.html", "mlsysim zoo: a cited catalog of ML-systems specifications", zoos=zoo_pages, home_charts=[charts[k] for k in ("hardware", "grids") if k in charts])
        page("sources.html", "sources.html", "Sources", sources=list(model.sources.values()))
        page("freshness.html", "freshness.html", "Freshness")
        page("compare.html", "compare.html", "Compare records", zoos=zoo_pages)
        pages += 4
        if model.of_kind("measurements"):
            from mlsysim.site.validation_view import validation_view

            page("validation.html", "validation.html", "Validation", view=validation_view(cat))
            pages += 1
        for source in model.sources.values():
            page(source.href, "source.html", source.title, src=source)
            pages += 1
            if source.path:
                write(source.file_href, (Path(cat.root) / source.path).read_bytes())

        pages += write_labs(cat, page, write, template_dir)
        write("compare-data.js", exports.compare_data(model))
        write("catalog.json", exports.catalog_json(model, generated))
        write("provenance-map.json", exports.provenance_json(model))
        write("static/badges.css", _badge_css())
        for asset in sorted((template_dir / "static").glob("*")):
            if asset.is_file() and not asset.name.startswith("."):
                write(f"static/{asset.name}", asset.read_bytes())
        drawn = drawing.finish()
        write(MARKER, f"built by mlsysim {__version__} on {generated}; `mlsysim site build` replaces this directory\n")
    cache.save()
    return (pages, len(charts) + sum(1 for v in model.records.values() if v.chart), len(model.records),
            model.value_count(), files, drawn)


@dataclass(frozen=True)
class Chart:
    """A zoo-page chart: the SVG (relative to the site root), its alt text and a caption naming its inputs."""

    src: str
    alt: str
    caption: str


def _badge_css() -> str:
    """Badge colours come from BADGE_STYLES, the same table the shields.io exports use."""
    rules = [
        f".badge-{name} {{ color: {s.fg}; background: {s.bg}; border-color: {s.border}; }}"
        for name, s in BADGE_STYLES.items()
    ]
    return "/* generated from mlsysim.site.badges.BADGE_STYLES */\n" + "\n".join(rules) + "\n"


def _charts(model: SiteModel, drawing: "_Drawing") -> dict[str, Chart]:
    """Every chart, handed to `drawing` (which copies it from the build cache or draws it);
    returns zoo-page charts by kind and sets record charts."""
    hardware = model.of_kind("hardware")
    grids = model.of_kind("grids")
    if not hardware and not grids:
        return {}
    draw = drawing.add
    out: dict[str, Chart] = {}
    points = []
    for view in hardware:
        peaks = _peaks(view)
        bandwidth = view.claim("memory.bandwidth")
        if not peaks or bandwidth is None:
            continue
        rel = f"charts/roofline-{view.id}.svg"
        draw(rel, "roofline", display_name(view), peaks, bandwidth.si)
        view.chart = rel
        for paths, basis in ((("compute.bf16", "compute.fp16"), "16-bit float"), (("compute.int8",), "INT8"), (("compute.fp32",), "FP32")):
            headline = next((view.claim(p) for p in paths if view.claim(p) is not None), None)
            if headline is not None:
                points.append(Accelerator(display_name(view), view.group, headline.si, bandwidth.si, basis))
                break
    if points:
        from mlsysim.site.charts import _split_outliers

        draw("charts/compute-vs-bandwidth.svg", "compute_vs_bandwidth", points)
        main, outliers = _split_outliers(points)
        ranked = sorted(points, key=lambda p: -p.flops)
        alt = (f"Log-log scatter of dense peak compute against memory bandwidth for {len(points)} accelerators, "
               f"coloured by tier. Highest peak: {ranked[0].label}; lowest: {ranked[-1].label}."
               + (f" Drawn apart in an inset, far beyond the rest: {', '.join(p.label for p in outliers)}." if outliers else ""))
        caption = ("Inputs: each accelerator's dense peak (compute.bf16, else compute.fp16, else compute.int8, "
                   "else compute.fp32) and memory.bandwidth, as cited in the table. Markers: circle 16-bit float, "
                   "triangle INT8 (TOPS), square FP32.")
        out["hardware"] = Chart("charts/compute-vs-bandwidth.svg", alt, caption)
    bars = []
    per_g_kwh = None
    for view in grids:
        # One basis per chart: lifecycle, the default basis; direct-only grids are not drawn.
        ci = view.claim("carbon_intensity_lifecycle") or view.claim("carbon_intensity")
        if ci is None:
            continue
        per_g_kwh = per_g_kwh or drawing.cache.factor("gCO2e/kWh", "carbon_intensity")
        year = f" ({ci.valid_time})" if ci.valid_time else ""
        bars.append(GridBar(f"{_short_name(view.name)}{year}", ci.si / per_g_kwh, ci.qualifiers.get("basis", "")))
    if bars:
        draw("charts/grid-carbon-intensity.svg", "grid_intensity", bars)
        ranked = sorted(bars, key=lambda b: b.intensity)
        alt = (f"Bar chart of carbon intensity in gCO2e/kWh for {len(bars)} grids, coloured by lifecycle or direct basis: "
               f"lowest {ranked[0].label} at {format_number(ranked[0].intensity, 3)}, highest {ranked[-1].label} at {format_number(ranked[-1].intensity, 3)}.")
        caption = ("Inputs: each grid's carbon_intensity (with its basis qualifier, lifecycle or direct, and its "
                   "valid year in brackets), as cited in the table. Lifecycle and direct figures are not comparable.")
        out["grids"] = Chart("charts/grid-carbon-intensity.svg", alt, caption)
    return out


def _peaks(view: RecordView) -> list[Peak]:
    """Distinct dense peaks, highest first; precisions with the same peak share one roof."""
    by_value: dict[float, list[str]] = {}
    for claim in view.claims:
        if claim.field.startswith("compute."):
            by_value.setdefault(claim.si, []).append(claim.field.split(".", 1)[1].upper().replace("_", " "))
    return [Peak(" / ".join(names), flops) for flops, names in sorted(by_value.items(), reverse=True)]


def display_name(view: RecordView) -> str:
    """A chart label for a record: its name without parenthetical remarks or a leading vendor
    ('NVIDIA A100 SXM4 40GB' -> 'A100 SXM4 40GB'), never a registry id."""
    name = _short_name(view.name)
    vendor = str(view.record.plain_fields.get("vendor") or "")
    if vendor and name.lower().startswith(vendor.lower() + " ") and len(name) - len(vendor) > 6:
        name = name[len(vendor) + 1:]
    return name


def _short_name(name: str) -> str:
    """A chart label: the name without its parenthetical remarks."""
    import re

    return re.sub(r"\s*\([^)]*\)", "", name).strip() or name
