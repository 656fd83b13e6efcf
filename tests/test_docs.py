"""Executable documentation: every `>>>` example in the package's docstrings and in the
README's ```python blocks runs, and prints what the text says it prints.

The examples run against the bundled catalog, as a reader's copy-paste would."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in (ROOT / "mlsysim").rglob("*.py")
    if p.name != "__main__.py"
)


def _run(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    output: list[str] = []
    runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)


def _docstring_tests() -> list[tuple[str, doctest.DocTest]]:
    found = []
    for name in _MODULES:
        module = importlib.import_module(name)
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
            if test.examples and test.name.split(".")[0] == "mlsysim":
                found.append((test.name, test))
    return found


@pytest.mark.parametrize("name, test", _docstring_tests(), ids=lambda v: v if isinstance(v, str) else "")
def test_docstring_examples_run(name: str, test: doctest.DocTest) -> None:
    _run(test)


def readme_blocks() -> list[tuple[int, str]]:
    """The README's ```python blocks written as doctests, with their line numbers."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
        if ">>> " in match.group(1):
            blocks.append((text.count("\n", 0, match.start()) + 2, match.group(1)))
    return blocks


def test_the_readme_has_executable_examples() -> None:
    assert readme_blocks(), "README.md has no ```python block written as a doctest (>>> lines)"


def test_readme_examples_run() -> None:
    """All blocks share one namespace, as a reader working down the page would."""
    globs: dict = {}
    parser = doctest.DocTestParser()
    for line, block in readme_blocks():
        test = parser.get_doctest(block, globs, f"README.md:{line}", str(ROOT / "README.md"), line - 1)
        _run(test)


def docs_page_blocks() -> list[tuple[str, int, str]]:
    """The ```python blocks written as doctests in the documentation's prose pages (docs/*.md;
    the tutorials are executed by the docs build and tests/test_tutorials.py instead)."""
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
            if ">>> " in match.group(1):
                found.append((page.name, text.count("\n", 0, match.start()) + 2, match.group(1)))
    return found


def test_the_docs_pages_have_executable_examples() -> None:
    assert any(name == "getting-started.md" for name, _, _ in docs_page_blocks())


@pytest.mark.parametrize("page", sorted({name for name, _, _ in docs_page_blocks()}))
def test_docs_page_examples_run(page: str) -> None:
    """One namespace per page, as a reader working down it would have."""
    globs: dict = {}
    parser = doctest.DocTestParser()
    for name, line, block in docs_page_blocks():
        if name == page:
            path = ROOT / "docs" / name
            runner = doctest.DocTestRunner(optionflags=FLAGS)
            output: list[str] = []
            test = parser.get_doctest(block, globs, f"docs/{name}:{line}", str(path), line - 1)
            runner.run(test, out=output.append, clear_globs=False)
            assert runner.failures == 0, "".join(output)
            globs.update(test.globs)  # a DocTest runs on a copy of the namespace it is given
