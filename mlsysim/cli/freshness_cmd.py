"""`mlsysim freshness check`: re-verify cited sources and refresh live values.

Exit codes: 0 nothing needs attention; 1 bad input; 4 something changed, broke or
was proposed and needs review; 5 OUTAGE: the network, not the sources, failed
(every host failing the same way, or most documents unreachable), so nothing in
the catalog was written and every badge stays as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from mlsysim.cli.options import CatalogOption
from mlsysim.cli.console import console, err_console
from mlsysim.errors import MlsysimError
from provenance.problems import ProvenanceError

app = typer.Typer(help="Re-verify cited sources and refresh live values.", no_args_is_help=True)

EXIT_ATTENTION = 4
EXIT_OUTAGE = 5


class _RichProgress:
    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("[bold]checking sources"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("{task.fields[last]}"), console=err_console, transient=True)
        self._task: Any = None

    def __enter__(self) -> _RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def start(self, total: int) -> None:
        self._task = self._progress.add_task("check", total=total, last="")

    def advance(self, label: str, fetched: Any) -> None:
        self._progress.update(self._task, advance=1, last=label[-60:])


class _PlainProgress:
    """One line per fetched document, for logs."""

    def __enter__(self) -> _PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self, total: int) -> None:
        err_console.print(f"fetching {total} document{'s' if total != 1 else ''}", highlight=False)
        self._done, self._total = 0, total

    def advance(self, label: str, fetched: Any) -> None:
        self._done += 1
        status = fetched.status if fetched.ok else f"{fetched.failure}: {fetched.message}"
        err_console.print(f"[{self._done}/{self._total}] {label} -> {status}", highlight=False, markup=False, soft_wrap=True)


def _http_policy() -> Any:
    from provenance.http import HttpPolicy

    # For local testing and benchmarks only: let the checker reach these addresses.
    allow = frozenset(a.strip() for a in os.environ.get("MLSYSIM_FRESHNESS_ALLOW_ADDRESSES", "").split(",") if a.strip())
    timeout = float(os.environ.get("MLSYSIM_FRESHNESS_TIMEOUT", "30"))
    request_deadline = float(os.environ.get("MLSYSIM_FRESHNESS_REQUEST_DEADLINE", "120"))
    return HttpPolicy(allow_addresses=allow, read_timeout=timeout, connect_timeout=min(10.0, timeout),
                      request_deadline=request_deadline,
                      backoff_base=float(os.environ.get("MLSYSIM_FRESHNESS_BACKOFF", "1")))


@app.command()
def check(
    only: Optional[str] = typer.Option(None, "--only", help="Check one source id, one record (e.g. grids/great_britain) or one claim path."),
    due: bool = typer.Option(False, "--due", help="Only values whose check is due by their cadence."),
    apply: bool = typer.Option(False, "--apply", help="Also write proposed edits into the YAML (live values inside their guards are always applied)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the full report as JSON here."),
    summary: Optional[Path] = typer.Option(None, "--summary", help="Write a Markdown summary (CI step summary or PR body) here."),
    offline: bool = typer.Option(False, "--offline", help="Fetch nothing and write no catalog file: show what would be checked."),
    deadline: float = typer.Option(1200.0, "--deadline", min=1.0, help="Seconds for the whole run's fetching; what is not fetched by then is skipped this run (results so far are kept)."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Re-verify cited sources. Exit 0: nothing needs attention; 4: something changed, broke or needs review;
    5: OUTAGE (the network failed, not the sources): nothing in the catalog was written."""
    from mlsysim.catalog import load_catalog
    from mlsysim.catalog.freshness import claim_refs, convert, remove_stale_copies, validator
    from provenance.checker import Checker, Options, markdown_summary
    from provenance.http import Fetcher

    cat = load_catalog(catalog)
    remove_stale_copies()
    options = Options(today=dt.date.today(), only=only, due_only=due, apply_proposals=apply, offline=offline, deadline=deadline,
                      arxiv_api=os.environ.get("MLSYSIM_FRESHNESS_ARXIV_API", "https://export.arxiv.org/api/query?id_list={id}"),
                      connector_overrides=_pairs(os.environ.get("MLSYSIM_FRESHNESS_CONNECTORS", "")))
    with Fetcher(_http_policy()) as fetcher:
        checker = Checker(cat.root, claim_refs(cat), fetcher=fetcher, convert=convert, validate=validator(cat.root), options=options)
        progress = _RichProgress() if err_console.is_terminal else _PlainProgress()
        try:
            with progress:
                result = checker.run(progress)
        except (MlsysimError, ProvenanceError):
            raise
        except Exception as exc:  # a bug: still never a secret on the terminal
            raise RuntimeError(checker.redactor.text(f"{type(exc).__name__}: {exc}")) from None
    text = markdown_summary(result)
    if report is not None:
        _write(report, json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
    if summary is not None:
        _write(summary, text)
    _print(result)
    if result.get("outage"):
        err_console.print(f"{result['outage']}. Nothing in the catalog was written; every badge stays as it was. "
                          f"Run again when the network is back; exit {EXIT_OUTAGE}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_OUTAGE)
    if result["needs_attention"]:
        raise typer.Exit(EXIT_ATTENTION)


def _pairs(text: str) -> dict[str, str]:
    """'http://127.0.0.1:8000/gb=gb_carbon_intensity,...' -> {URL prefix: connector} (local testing only)."""
    return dict(item.strip().rsplit("=", 1) for item in text.split(",") if "=" in item)


def _write(path: Path, text: str) -> None:
    from provenance.atomic import write_text_atomic

    from mlsysim.errors import MlsysimError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError as exc:
        raise MlsysimError(f"{path}: cannot write ({exc.strerror}); choose a writable path") from None


def _print(result: dict[str, Any]) -> None:
    counts = result["counts"]
    shown = ", ".join(f"{n} {k}" for k, n in counts.items()) or "nothing checked"
    console.print(f"freshness check {result['date']}: {result['planned']} values planned; {shown}", highlight=False, soft_wrap=True)
    for source in result["sources"]:
        for c in source["claims"]:
            if c["result"] == "match" and c["action"] == "none" or c["result"] == "skipped":
                continue
            action = f" [{c['action']}]" if c["action"] != "none" else ""
            console.print(f"  {c['result']}{action} {c['path']} ({source['id']}): {c['message']}", markup=False, highlight=False, soft_wrap=True)
    skipped = counts.get("skipped", 0)
    if skipped:
        reasons = sorted({c["message"] for s in result["sources"] for c in s["claims"] if c["result"] == "skipped"})
        for reason in reasons[:5]:
            console.print(f"  skipped: {reason}", markup=False, highlight=False, soft_wrap=True)
    if result["needs_attention"]:
        err_console.print("needs review: see the report (--report/--summary); exit 4", highlight=False)
    sys.stdout.flush()
