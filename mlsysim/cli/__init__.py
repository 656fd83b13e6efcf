"""The mlsysim command line. Only this package prints or exits."""

from __future__ import annotations

import os
import sys

import typer

from mlsysim import __version__
from mlsysim.cli import catalog_cmd, eval_cmd, freshness_cmd, inspect_cmd, mcp_cmd, optimize_cmd, schema_cmd, site_cmd, validate_cmd
from mlsysim.cli.console import err_console, escape
from mlsysim.errors import MlsysimError
from provenance.problems import ProvenanceError


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlsysim {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="mlsysim",
    help="A cited catalog of ML-systems specifications, with thin analytical solvers on top.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """mlsysim: every number traced to the document it came from."""


app.add_typer(catalog_cmd.app, name="catalog")
app.add_typer(freshness_cmd.app, name="freshness")
inspect_cmd.register(app)
eval_cmd.register(app)
validate_cmd.register(app)
schema_cmd.register(app)
mcp_cmd.register(app)
app.add_typer(site_cmd.app, name="site")
app.add_typer(optimize_cmd.app, name="optimize")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning every error into `Error: ...` and an exit code."""
    try:
        # Without standalone mode, click returns (not raises) the code of an Exit inside a command.
        code = app(args=argv, prog_name="mlsysim", standalone_mode=False)
        if isinstance(code, int):
            return code
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        err_console.print("Aborted.")
        return 1
    except MlsysimError as exc:
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        return exc.exit_code
    except ProvenanceError as exc:
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a file or directory the command reads or writes: name it
        where = exc.filename if exc.filename is not None else "a file"
        what = exc.strerror or type(exc).__name__
        err_console.print(f"[bold red]Error:[/] {escape(where)}: {escape(what)}; check the path and its permissions",
                          highlight=False, soft_wrap=True)
        return 1
    except Exception as exc:
        if callable(getattr(exc, "show", None)):  # a usage error (typer's click): bad input, exit 1
            exc.show()
            return 1
        # A bug, not bad input: still no traceback unless asked for.
        if os.environ.get("MLSYSIM_DEBUG"):
            raise
        err_console.print(f"[bold red]Error:[/] internal error: {type(exc).__name__}: {escape(str(exc))} (set MLSYSIM_DEBUG=1 for the traceback)", highlight=False)
        return 1
    return 0


def run() -> None:
    sys.exit(main())
