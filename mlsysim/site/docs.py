"""Build the documentation site: the Sphinx pages of `docs/` (tutorials executed) with the
zoo as its `zoo/` section, into one static directory that works from file://.

The zoo is rendered first (`build_site` into `zoo/`, its header linking back to the docs),
then Sphinx renders `docs/` around it: the tutorials run in a Jupyter kernel and a cell
that raises fails the build; the API and math pages are generated from the package
(`docs_pages`). Everything is built in a staging directory beside `out` and moved into
place only when complete, as the zoo build does; Sphinx's messages are collected, never
printed.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from mlsysim import __version__
from mlsysim.errors import MlsysimError
from mlsysim.site.build import MARKER, _check_replaceable, _remove_stale, _swap_into_place, build_site

_PACKAGE = Path(__file__).resolve().parent.parent
ZOO_DIR = "zoo"  # the zoo's folder inside the docs site
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # terminal colours in a kernel's traceback


@dataclass(frozen=True)
class DocsReport:
    """What a docs build wrote, and what Sphinx warned about."""

    out: Path
    pages: int
    zoo_pages: int
    tutorials: int
    warnings: tuple[str, ...]


def docs_source() -> Path:
    """The docs/ folder: shipped in the wheel, or the checkout's docs/ in a source tree."""
    shipped = _PACKAGE / "_data" / "docs"
    return shipped if (shipped / "conf.py").is_file() else _PACKAGE.parent / "docs"


def tutorial_files(source: str | os.PathLike[str] | None = None) -> list[Path]:
    """The executed tutorials (text notebooks) of the docs, in reading order."""
    root = Path(source) if source else docs_source()
    return sorted(p for p in (root / "tutorials").glob("*.md") if p.name != "index.md")


# The tutorial kernels' IPython configuration: a profile of their own (no user start-up
# scripts run in a build) whose kernel logs only errors, so a build prints nothing.
_KERNEL_CONFIG = 'c.IPKernelApp.log_level = "ERROR"\n'


@contextmanager
def _environment(catalog_dir: Path | None, ipython_dir: Path) -> Iterator[None]:
    """The tutorial kernels inherit this process's environment: point them at the catalog
    being documented and at their own IPython profile, without the debugger's start-up
    warning; restored afterwards."""
    keys = ("MLSYSIM_CATALOG", "PYDEVD_DISABLE_FILE_VALIDATION", "MPLBACKEND", "IPYTHONDIR")
    saved = {k: os.environ.get(k) for k in keys}
    try:
        if catalog_dir is not None:
            os.environ["MLSYSIM_CATALOG"] = str(catalog_dir)
        profile = ipython_dir / "profile_default"
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "ipython_kernel_config.py").write_text(_KERNEL_CONFIG, encoding="utf-8")
        os.environ["IPYTHONDIR"] = str(ipython_dir)
        os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        os.environ.pop("MPLBACKEND", None)  # the kernel picks its inline backend
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_docs(
    out: str | os.PathLike[str],
    catalog: Any = None,
    *,
    source: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    today: dt.date | None = None,
    sphinx_overrides: dict[str, Any] | None = None,
) -> DocsReport:
    """Build the documentation site (docs pages + the zoo in `zoo/`) into `out`.

    Parameters
    ----------
    out : the output directory; replaced only when it holds an earlier mlsysim build.
    catalog : a Catalog, a catalog directory, or None for the default one; the zoo and the
        tutorials both use it.
    source : the docs source folder (default: `docs_source()`).
    jobs : Sphinx worker processes for reading and writing [1].
    today : the date the zoo's badges are computed for (default: today).
    sphinx_overrides : Sphinx configuration values that replace those of `conf.py`.

    Raises
    ------
    MlsysimError
        When a tutorial cell raises (the message names the tutorial and the error), when
        Sphinx fails, or when `out` exists and is not an mlsysim build.
    """
    from mlsysim.catalog import Catalog, load_catalog

    src = Path(source) if source else docs_source()
    if not (src / "conf.py").is_file():
        raise MlsysimError(f"{src}: no docs here (conf.py missing); build from a checkout or an install that ships docs/")
    try:
        from sphinx.application import Sphinx
        from sphinx.errors import SphinxError
        from sphinx.util.console import nocolor
    except ImportError:
        raise MlsysimError("building the docs needs Sphinx and MyST-NB: pip install 'mlsysim[docs]'") from None
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
    out_dir = Path(out).expanduser().resolve()
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    work = Path(tempfile.mkdtemp(prefix="mlsysim-docs-"))
    try:
        zoo = build_site(staging / ZOO_DIR, cat, today=today, docs_root="../")
        # Sphinx reads a copy: the generated api/ and math/ pages never land in the source tree.
        srcdir = work / "src"
        shutil.copytree(src, srcdir, ignore=shutil.ignore_patterns("_build", "__pycache__", ".ipynb_checkpoints"))
        status, warnings = io.StringIO(), io.StringIO()
        nocolor()  # messages are collected as text, not for a terminal
        catalog_dir = getattr(cat, "root", None)
        with _environment(Path(catalog_dir) if catalog_dir else None, work / "ipython"):
            try:
                app = Sphinx(str(srcdir), str(srcdir), str(staging), str(work / "doctrees"), "html",
                             status=status, warning=warnings, freshenv=True, parallel=max(1, int(jobs)),
                             keep_going=False, confoverrides=dict(sphinx_overrides or {}))
                app.build(force_all=True)
            except SphinxError as exc:
                raise MlsysimError(_explain(exc, warnings.getvalue())) from None
            except Exception as exc:  # an extension's own error (e.g. a tutorial cell) surfaces here
                raise MlsysimError(_explain(exc, warnings.getvalue())) from None
        if app.statuscode:
            raise MlsysimError("the docs build failed:\n" + warnings.getvalue().strip())
        (staging / ".buildinfo").unlink(missing_ok=True)
        (staging / ".doctrees").exists() and shutil.rmtree(staging / ".doctrees")
        pages = sum(1 for p in staging.rglob("*.html") if ZOO_DIR not in p.relative_to(staging).parts[:1])
        generated = (today or dt.date.today()).isoformat()
        (staging / MARKER).write_text(
            f"built by mlsysim {__version__} on {generated}; `mlsysim site build` replaces this directory\n", encoding="utf-8")
        staging.chmod(0o755)
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = tuple(line for line in warnings.getvalue().splitlines() if "WARNING" in line or "ERROR" in line)
    return DocsReport(out_dir, pages, zoo.pages, len(tutorial_files(src)), found)


def _explain(exc: BaseException, warnings: str) -> str:
    """The build's failure in a few lines: which page, which cell, which error. A tutorial
    cell's error arrives wrapped (Sphinx's ExtensionError around the kernel's
    CellExecutionError, whose text ends with the cell's traceback)."""
    parts = [str(exc).strip() or type(exc).__name__]
    seen = {id(exc)}
    cause = getattr(exc, "orig_exc", None) or exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        text = str(cause).strip()
        if text and text not in parts:
            parts.append(text)
        cause = getattr(cause, "orig_exc", None) or cause.__cause__ or cause.__context__
    relevant = [line for line in warnings.splitlines()
                if ("WARNING" in line or "ERROR" in line) and "already registered" not in line]
    message = _ANSI.sub("", "the docs build failed: " + "\n".join(parts))
    if relevant:
        message += "\n" + "\n".join(relevant[-20:])
    return message
