"""Hostile input to every CLI command and to plans: always `Error: ...` naming the place,
never a traceback, an internal error, a hang, markup or raw bidi characters on the terminal.
The corpus and the judge are scripts/fuzz_cli.py (the campaign table)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import load_script

fuzz = load_script("fuzz_cli")


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fuzz.hostile_catalog(tmp_path_factory.mktemp("hostile") / "catalog")


def _case_ids() -> list[str]:
    return [case.name for case in fuzz.cli_cases("CATALOG")]


def test_the_corpus_is_large_and_covers_every_command() -> None:
    cases = fuzz.cli_cases("CATALOG")
    assert len(cases) >= 130
    commands = {tuple(a for a in case.args[:2] if not a.startswith("-")) for case in cases}
    firsts = {c[0] for c in commands}
    for command in ("show", "zoo", "search", "eval", "validate", "catalog", "provenance", "freshness", "site"):
        assert command in firsts, command
    assert len(fuzz.solver_cases()) >= 100


@pytest.mark.parametrize("index", range(len(_case_ids())), ids=_case_ids())
def test_cli_case(index: int, hostile_root: Path, tmp_path: Path) -> None:
    case = fuzz.cli_cases(str(hostile_root))[index]
    home = os.environ.get("HOME")
    try:
        if case.setup:
            case.setup(tmp_path)
        outcome = fuzz.run_cli(case.args, 120.0, tmp_path)
    finally:
        if home is not None:
            os.environ["HOME"] = home
    verdict = fuzz.judge_cli(case, outcome, tmp_path)
    assert verdict == "located error", f"{verdict}: exit {outcome.code}\n{outcome.out[-2000:]}\n{outcome.err[-2000:]}"
