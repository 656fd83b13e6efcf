"""`mlsysim site build`: render the zoo site."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from mlsysim.cli.options import CatalogOption
from mlsysim.cli.console import console

app = typer.Typer(help="The zoo site: static HTML pages for the catalog, every value with its source and badge.", no_args_is_help=True)


@app.command()
def build(
    out: Path = typer.Option(Path("_site"), "--out", "-o", help="Output directory; replaced when it holds an earlier build."),
    catalog: Optional[Path] = CatalogOption,
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Public http(s) URL the site is served from (canonical links, shields.io badge URLs)."),
    docs: bool = typer.Option(False, "--docs", help="Build the whole documentation site (tutorials executed, API, math, glossary) with the zoo as its zoo/ section; needs the 'docs' extra."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="With --docs: Sphinx worker processes."),
) -> None:
    """Render site_templates/ for the catalog into a self-contained static site (works from file://).

    With --docs, build the documentation site around it: docs/ rendered by Sphinx, every
    tutorial executed (a failing cell fails the build), the zoo in OUT/zoo/."""
    from mlsysim.catalog.paths import locate_catalog
    from mlsysim.cli.console import err_console
    from mlsysim.site.build import build_site

    location = locate_catalog(catalog)
    err_console.print(f"catalog: {location}", style="dim", markup=False, highlight=False, soft_wrap=True)
    started = time.perf_counter()
    if docs:
        if base_url is not None:
            from mlsysim.errors import MlsysimError

            raise MlsysimError("--base-url applies to the zoo-only build; drop it, or build the zoo alone without --docs")
        from mlsysim.site.docs import build_docs

        report_docs = build_docs(out, location.path, jobs=jobs)
        _print_built(f"Built the docs: {report_docs.pages} pages ({report_docs.tutorials} tutorials executed) and "
                     f"the zoo ({report_docs.zoo_pages} pages)", started)
        # Docstring layout warnings (docutils reading a numpydoc block) are counted; the rest are listed.
        layout = [w for w in report_docs.warnings if "docstring of " in w]
        for line in (w for w in report_docs.warnings if "docstring of " not in w):
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
        if layout:
            err_console.print(f"{len(layout)} docstring layout warnings from Sphinx (rendered as plain text)",
                              style="dim", markup=False, highlight=False)
        built = report_docs.out
    else:
        report = build_site(out, location.path, base_url=base_url)
        _print_built(f"Built {report.pages} pages, {report.charts} charts and {report.records} badge files "
                     f"for {report.records} records ({report.values} cited values)", started)
        built = report.out
    console.print(f"Open {built / 'index.html'}", highlight=False, soft_wrap=True, markup=False)


def _print_built(what: str, started: float) -> None:
    """One line: what was built and the wall time since `started` (time.perf_counter)."""
    console.print(f"{what} in {time.perf_counter() - started:.2f} s", highlight=False)
