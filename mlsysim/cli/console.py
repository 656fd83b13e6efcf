"""The consoles the CLI prints to."""

import os
import sys

from rich.console import Console

# Piped output (CI logs, files) has no terminal width; 80 columns would fold the tables.
_width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160

console = Console(highlight=False, width=_width)
err_console = Console(stderr=True, highlight=False, width=_width)
