"""Shared fixtures: the tiny fixture catalog, editable copies of it, and the CLI."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
import os
from pathlib import Path

import pytest

# pytest-xdist workers inherit COLUMNS=80 from the controller; CLI output in tests
# is judged at the width a pipe gets (see mlsysim/cli/console.py), not a terminal's.
os.environ.pop("COLUMNS", None)

FIXTURE_CATALOG = Path(__file__).parent / "fixtures" / "catalog"
REPO = Path(__file__).resolve().parent.parent
REAL_CATALOG = REPO / "catalog"


def values_citing(catalog, source: str) -> dict[str, tuple[float, dict]]:
    """"kind/id" -> (SI value, claim) of every assumption and measurement value citing `source`."""
    found = {}
    for kind in ("assumptions", "measurements"):
        for rec in catalog.records(kind):
            for field, claim in rec.claims.items():
                if claim["source"] == source:
                    found[f"{kind}/{rec.id}"] = (rec.si(field), claim)
    return found


def assert_quoted_and_recomputed(found: dict[str, tuple[float, dict]], expected: dict[str, float], text: str) -> None:
    """Every value in `found` (`values_citing`) quotes `text` verbatim and equals its figure
    recomputed in `expected` (SI), and no value is missing or extra."""
    import pytest as _pytest

    assert set(found) == set(expected)
    for path, (si, claim) in found.items():
        assert claim["as_stated"] in text, path
        assert si == _pytest.approx(expected[path], rel=2e-4), path


def load_script(name: str, module_name: str | None = None):
    """scripts/<name>.py imported as a module (registered under `module_name`, default `name`),
    so tests can call its functions and its main() in-process."""
    module_name = module_name or name
    spec = importlib.util.spec_from_file_location(module_name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


FROZEN_CATALOG = Path(__file__).parent / "fixtures" / "frozen_catalog.json"
# Solver tests read the frozen snapshot of the catalog (`mlsysim catalog snapshot`), so a
# freshness update to the bundled catalog never moves a solver test; catalog tests read
# the live catalog/. Refreeze on purpose after a schema or record change the solvers
# need: mlsysim catalog snapshot -o tests/fixtures/frozen_catalog.json, then
# python scripts/record_golden.py.
SOLVER_TESTS = {"test_engine", "test_serving", "test_sweep", "test_plausibility", "test_reliability",
                "test_evaluator", "test_scenarios", "test_plot", "test_reference_api", "test_sensitivity",
                "test_synthesis", "test_compression", "test_responsible", "test_checkpoint", "test_scaling",
                "test_weight_streaming", "test_continuous_batching", "test_queueing", "test_topology",
                "test_data_pipeline", "test_orchestration"}


@pytest.fixture(autouse=True)
def _isolated_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test session gets its own validated-catalog cache; the user's is never touched.
    Solver tests see the frozen catalog as the default one."""
    monkeypatch.setenv("MLSYSIM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    if request.module.__name__.rpartition(".")[2] in SOLVER_TESTS:
        monkeypatch.setenv("MLSYSIM_CATALOG", str(FROZEN_CATALOG))
    else:
        monkeypatch.delenv("MLSYSIM_CATALOG", raising=False)


@pytest.fixture
def fixture_catalog() -> Path:
    return FIXTURE_CATALOG


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Callable[..., Path]:
    """A writable copy of the fixture catalog, with files replaced or added.

    Call with {relative path: text or None (delete)}.
    """

    def make(changes: dict[str, str | None] | None = None) -> Path:
        root = tmp_path / "catalog"
        if not root.exists():
            shutil.copytree(FIXTURE_CATALOG, root)
        for rel, text in (changes or {}).items():
            target = root / rel
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        return root

    return make


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run the real CLI entry point in-process: cli("catalog", "validate")."""
    from mlsysim.cli import main

    def run(*args: str) -> CliResult:
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """Local test servers listen on 127.0.0.1 (the one address the checker's tests allow), any free port."""
    return ("127.0.0.1", 0)
