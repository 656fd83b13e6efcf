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
) -> None:
    """Render site_templates/ for the catalog into a self-contained static site (works from file://)."""
    from mlsysim.catalog.paths import locate_catalog
    from mlsysim.cli.console import err_console
    from mlsysim.site.build import build_site

    location = locate_catalog(catalog)
    err_console.print(f"catalog: {location}", style="dim", markup=False, highlight=False, soft_wrap=True)
    started = time.perf_counter()
    report = build_site(out, location.path, base_url=base_url)
    seconds = time.perf_counter() - started
    console.print(
        f"Built {report.pages} pages, {report.charts} charts and {report.records} badge files "
        f"for {report.records} records ({report.values} cited values) in {seconds:.2f} s",
        highlight=False,
    )
    console.print(f"Open {report.out / 'index.html'}", highlight=False, soft_wrap=True, markup=False)
