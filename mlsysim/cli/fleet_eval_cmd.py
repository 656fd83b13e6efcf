"""`mlsysim eval scenario NAME` and `mlsysim eval plan.yaml`: the three-level scorecard.

`run_scenario` and `run_plan` print an evaluation and return the exit code (0 pass,
2 infeasible, 3 SLA missed); another `eval` front end can call them directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mlsysim.cli.console import console
from mlsysim.cli.eval_cmd import EvalRequest
from mlsysim.cli.options import Output, open_catalog
from mlsysim.errors import MlsysimError

def _print(evaluation, output: Output, explain: bool) -> int:
    if output == Output.json:
        console.print_json(evaluation.to_json(indent=None))
    else:
        console.print(evaluation.scorecard(), markup=False, highlight=False, soft_wrap=True)
        if explain:
            console.print("Cited values used:", markup=False)
            for entry in evaluation.lineage.entries():
                console.print(f"  {entry}", markup=False, highlight=False, soft_wrap=True)
    return evaluation.exit_code


def run_scenario(name: str, catalog: Optional[Path] = None, output: Output = Output.text, explain: bool = False) -> int:
    from mlsysim.evaluate.scenarios import evaluate_scenario

    cat = open_catalog(catalog)
    return _print(evaluate_scenario(name, catalog=cat), output, explain)


def run_plan(path: Path, catalog: Optional[Path] = None, output: Output = Output.text, explain: bool = False) -> int:
    from mlsysim.evaluate.plans import evaluate_plan

    cat = open_catalog(catalog)
    return _print(evaluate_plan(path, catalog=cat), output, explain)


def eval_scenario(req: EvalRequest) -> None:
    """`mlsysim eval scenario NAME`."""
    if len(req.args) != 1:
        raise MlsysimError("name the scenario: mlsysim eval scenario NAME (see `mlsysim zoo scenarios` or catalog/scenarios/)")
    _exit(run_scenario(req.args[0], req.catalog, req.output, req.explain))


def eval_plan(req: EvalRequest) -> None:
    """`mlsysim eval plan.yaml`."""
    if req.args:
        raise MlsysimError(f"unexpected argument {req.args[0]!r} after the plan file")
    _exit(run_plan(Path(req.target), req.catalog, req.output, req.explain))


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)
