"""Every tutorial's code runs unchanged as a plain Python script, from the bundled catalog.

The tutorials (docs/tutorials/*.md) are MyST-NB text notebooks that the docs build
executes in a Jupyter kernel; here their code cells are extracted as written, joined in
order and run in a fresh interpreter (matplotlib's Agg backend, no IPython), so a
tutorial that only works inside a notebook, or not at all, fails here too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlsysim.site.docs import tutorial_files

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
TUTORIALS = tutorial_files(DOCS)
# A code cell that draws a figure (pyplot or mlsysim.plot_roofline).
DRAWS = re.compile(r"plt\.subplots|plot_roofline\(")


def cells(path: Path) -> list[tuple[dict[str, str], str]]:
    """(options text, code) of every code cell, in order. Options are the cell's leading
    `---`-fenced YAML block or its `:key: value` lines; the code is everything after."""
    found = []
    for match in CELL.finditer(path.read_text(encoding="utf-8")):
        body = match.group(1)
        options = ""
        if body.startswith("---\n"):
            end = body.index("\n---\n", 3)
            options, body = body[4:end], body[end + 5:]
        else:
            lines = body.splitlines(keepends=True)
            while lines and lines[0].startswith(":"):
                options += lines.pop(0)
            body = "".join(lines)
        found.append((options, body))
    return found


def script(path: Path) -> str:
    return "\n".join(code for _, code in cells(path))


def test_the_six_tutorials_are_there() -> None:
    names = {p.stem for p in TUTORIALS}
    assert names == {"roofline", "llm-serving", "distributed-training", "sustainability", "catalog-maintainer",
                     "trustworthy"}, names
    index = (DOCS / "tutorials" / "index.md").read_text(encoding="utf-8")
    for name in names:
        assert f"\n{name}\n" in index, f"docs/tutorials/index.md does not list {name}"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_extraction_keeps_every_cell(path: Path) -> None:
    """The extractor sees exactly the cells MyST-NB executes (one per ```{code-cell} fence)."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\nfile_format: mystnb\n"), f"{path.name}: not a MyST-NB text notebook (front matter)"
    assert len(cells(path)) == text.count("```{code-cell}") > 0


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_every_figure_has_alt_text_and_a_caption(path: Path) -> None:
    for options, code in cells(path):
        if DRAWS.search(code):
            assert re.search(r"^\s+alt: \"?\S", options, re.M), f"{path.name}: a figure cell has no image alt text:\n{code[:200]}"
            assert re.search(r"^\s+caption: \"?\S", options, re.M), f"{path.name}: a figure cell has no caption:\n{code[:200]}"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_as_a_script(path: Path, tmp_path: Path) -> None:
    """The code as written, in a fresh interpreter with the bundled catalog (a fresh install's view)."""
    code = script(path)
    env = {k: v for k, v in os.environ.items() if k not in ("MLSYSIM_CATALOG", "IPYTHONDIR")}
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"{path.name} failed as a script:\n{done.stderr[-4000:]}"
    assert done.stdout.strip(), f"{path.name} printed nothing"
