"""`mlsysim catalog validate|schema`: feedback for people editing the YAML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from mlsysim.cli.options import CatalogOption, open_catalog
from mlsysim.cli.console import console, echo, err_console
from mlsysim.errors import MlsysimError

app = typer.Typer(help="Validate the catalog, export its JSON Schemas, pin it to a snapshot.", no_args_is_help=True)



def _catalog_root_of(path: Path) -> Path:
    """The catalog directory holding path: the nearest ancestor with sources.yaml."""
    for candidate in [path, *path.parents]:
        if (candidate / "sources.yaml").is_file():
            return candidate
    raise MlsysimError(f"{path}: not inside a catalog (no sources.yaml above it); pass a catalog directory")


@app.command()
def validate(
    paths: Optional[list[Path]] = typer.Argument(None, help="Catalog directories or record files (default: the whole catalog)."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Check every record: schema, units, citations, references. Exit 1 listing every problem."""
    from mlsysim.catalog import check, scan
    from mlsysim.catalog.snapshot import read_snapshot

    targets: dict[Path, set[str] | None] = {}
    for raw in paths or []:
        path = raw.resolve()
        if not path.exists():
            raise MlsysimError(f"{raw}: no such file or directory")
        root = _catalog_root_of(path if path.is_dir() else path.parent)
        files = targets.setdefault(root, set())
        if path != root and files is not None:
            files.add(path.relative_to(root).as_posix())
        elif path == root:
            targets[root] = None
    if not targets:
        root, _ = check(catalog)
        targets[root] = None

    total = 0
    for root, only in targets.items():
        _, problems = check(root)
        if only is not None:
            problems = [p for p in problems if any(p.file == f or p.file.startswith(f + "/") for f in only)]
        for problem in problems:
            console.print(str(problem), markup=False, soft_wrap=True)
        total += len(problems)
        if not problems:
            snapshot = read_snapshot(root) if root.is_file() else scan(root)
            values = sum(len(r["claims"]) for r in snapshot["records"])
            console.print(f"✓ {root}: {len(snapshot['records'])} records, {values} cited values, {len(snapshot['sources'])} sources — valid", soft_wrap=True, markup=False)
    if total:
        err_console.print(f"[bold red]Error:[/] {total} problem{'s' if total != 1 else ''} found; each line above says where, what and how to fix it")
        raise typer.Exit(1)


@app.command()
def schema(
    kind: Optional[str] = typer.Option(None, "--kind", help="One record kind (hardware, models, grids, ..., or sources)."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Write <kind>.schema.json files into this directory."),
) -> None:
    """JSON Schema per record kind, for editors' YAML plugins."""
    from mlsysim.catalog.schema_export import json_schemas

    schemas = json_schemas()
    if kind is not None:
        if kind not in schemas:
            raise MlsysimError(f"unknown kind {kind!r}; use one of {', '.join(schemas)}")
        schemas = {kind: schemas[kind]}
    if out is None:
        body = next(iter(schemas.values())) if kind else schemas
        echo(json.dumps(body, indent=2, sort_keys=True))
        return
    from provenance.atomic import write_text_atomic

    if out.exists() and not out.is_dir():
        raise MlsysimError(f"-o/--out {out}: is a file, not a directory; pass a directory to write the <kind>.schema.json files into")
    out.mkdir(parents=True, exist_ok=True)
    for name, body in schemas.items():
        write_text_atomic(out / f"{name}.schema.json", json.dumps(body, indent=2, sort_keys=True) + "\n")
        console.print(f"wrote {out / f'{name}.schema.json'}", markup=False, soft_wrap=True)


@app.command("snapshot")
def snapshot_cmd(
    out: Path = typer.Option(..., "-o", "--out", help="The snapshot file to write (JSON)."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Pin the catalog to one file; `--catalog FILE` reproduces results from it later."""
    from mlsysim.catalog.core import snapshot

    cat = open_catalog(catalog)
    if out.is_dir():
        raise MlsysimError(f"{out}: is a directory; pass a file name such as {out / 'catalog-snapshot.json'}")
    snapshot(cat, out)
    console.print(f"Wrote {out}: catalog {cat.fingerprint} of {cat.date}, {len(cat.records())} records", soft_wrap=True, markup=False)
