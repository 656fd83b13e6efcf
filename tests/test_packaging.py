"""The wheel, installed into a fresh virtualenv, works from another directory."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True, capture_output=True, text=True,
    )
    (built,) = out.glob("mlsysim-*.whl")
    return built


def test_wheel_installed_in_fresh_venv_runs_from_elsewhere(wheel: Path, tmp_path: Path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # The package only from the wheel (installed first, so pip cannot mistake this
    # environment's copy for it); dependencies from this environment, without network.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
                   check=True, capture_output=True, text=True)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}", "MLSYSIM_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    where = subprocess.run([str(python), "-c", "import mlsysim, mlsysim.catalog.paths as p; print(mlsysim.__file__); print(p.bundled_catalog())"],
                           cwd=elsewhere, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert where[0].startswith(str(env_dir)), where
    assert where[1].startswith(str(env_dir)) and where[1].endswith("mlsysim/_data/catalog")
    zoo = subprocess.run([str(env_dir / "bin" / "mlsysim"), "zoo", "hardware"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert zoo.returncode == 0, zoo.stderr
    assert "H100" in zoo.stdout and "MI300X" in zoo.stdout
    validate = subprocess.run([str(env_dir / "bin" / "mlsysim"), "catalog", "validate"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert validate.returncode == 0, validate.stdout + validate.stderr
