"""`mlsysim eval scenario NAME` and `mlsysim eval plan.yaml`: the three-level scorecard.

`run_scenario` and `run_plan` print an evaluation and return the exit code (0 pass,
2 infeasible, 3 SLA missed); another `eval` front end can call them directly.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Optional

import typer

from mlsysim.cli.console import console
from mlsysim.errors import MlsysimError

CatalogOption = typer.Option(None, "--catalog", help="Catalog directory (default: $MLSYSIM_CATALOG or the bundled one).")


class Output(str, enum.Enum):
    text = "text"
    json = "json"


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
    from mlsysim.catalog import load_catalog
    from mlsysim.scenarios import evaluate_scenario

    cat = load_catalog(catalog)
    return _print(evaluate_scenario(name, catalog=cat), output, explain)


def run_plan(path: Path, catalog: Optional[Path] = None, output: Output = Output.text, explain: bool = False) -> int:
    from mlsysim.catalog import load_catalog
    from mlsysim.plans import evaluate_plan

    cat = load_catalog(catalog)
    return _print(evaluate_plan(path, catalog=cat), output, explain)


def eval_command(
    target: str = typer.Argument(..., help="'scenario' followed by a scenario name, or a plan file (*.yaml)."),
    name: Optional[str] = typer.Argument(None, help="The scenario's id, alias or name (after 'scenario')."),
    output: Output = typer.Option(Output.text, "--output", "-o", help="text (the scorecard) or json."),
    explain: bool = typer.Option(False, "--explain", help="List every cited value the result rests on."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Evaluate a scenario from the catalog or a plan file: feasibility, performance, macro.

    Exit codes: 0 all levels pass, 1 bad input, 2 physically infeasible, 3 SLA missed.
    """
    if target == "scenario":
        if not name:
            raise MlsysimError("name the scenario: mlsysim eval scenario NAME (see catalog/scenarios/)")
        code = run_scenario(name, catalog, output, explain)
    elif target.endswith((".yaml", ".yml")):
        if name:
            raise MlsysimError(f"unexpected argument {name!r} after the plan file")
        code = run_plan(Path(target), catalog, output, explain)
    else:
        raise MlsysimError(f"{target!r} is neither 'scenario NAME' nor a plan file ending in .yaml")
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
