"""The consoles the CLI prints to, and the one way user text reaches them.

Text from people and from the catalog (names, values, file contents, plan fields) is
data: `escape` keeps rich from reading "[bold red]" in it as markup, and every console
here shows invisible control characters (a right-to-left override U+202E, NUL, ESC, ...)
as their escapes (\\u202e), so what a terminal shows is what the text holds.
"""

import os
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape as _escape_markup

from mlsysim.site.safety import visible


def escape(text: Any) -> str:
    """`text` (anything, as str) safe to put inside rich markup: markup escaped, controls shown."""
    return _escape_markup(visible(str(text)))


class _VisibleConsole(Console):
    """A rich Console that shows invisible control characters in the strings it prints."""

    def print(self, *objects: Any, **kwargs: Any) -> None:  # noqa: A003 - rich's name
        super().print(*(visible(o) for o in objects), **kwargs)


def echo(text: str, nl: bool = True) -> None:
    """typer.echo for machine output (JSON, CSV): controls shown as escapes, which JSON
    reads back as the same characters."""
    typer.echo(visible(text), nl=nl)


# Piped output (CI logs, files) has no terminal width; 80 columns would fold the tables.
_width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160

console = _VisibleConsole(highlight=False, width=_width)
err_console = _VisibleConsole(stderr=True, highlight=False, width=_width)
