"""The repository follows its ecosystem's conventions: a LICENSE matching pyproject's,
a pre-commit hook others can use, a workflow that runs exactly the README's commands,
`-V`, and shell completion."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", quick, flags=re.S)]


def test_license_file_matches_pyproject():
    declared = re.search(r'^license = "(.*)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), flags=re.M).group(1)
    assert declared == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_quick_start_is_two_commands_run_verbatim_by_ci_and_the_workflow():
    setup, tests = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert setup in ci and tests in ci
    workflow = YAML(typ="safe").load((ROOT / ".github/workflows/tests.yml").read_text(encoding="utf-8"))
    runs = [step.get("run") for step in workflow["jobs"]["test"]["steps"]]
    assert setup in runs and tests in runs
    assert {"push", "pull_request"} <= set(workflow[True] if True in workflow else workflow["on"])


def test_pre_commit_hook_runs_catalog_validate():
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    assert hook["entry"] == "mlsysim catalog validate" and hook["pass_filenames"] is True
    assert re.search(hook["files"], "catalog/hardware/cloud/h100_sxm.yaml")
    assert not re.search(hook["files"], "mlsysim/cli/__init__.py")
    local = YAML(typ="safe").load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert local["repos"][0]["hooks"][0]["entry"] == hook["entry"]


def test_validate_takes_the_files_pre_commit_passes(cli, fixture_catalog):
    result = cli("catalog", "validate", str(fixture_catalog / "hardware/cloud/fx100.yaml"))
    assert result.code == 0, result.out + result.err


def test_short_version_flag_and_completion(cli):
    from mlsysim import __version__

    assert cli("-V").out.strip() == f"mlsysim {__version__}"
    assert "--install-completion" in cli("--help").out
