"""Every solver is importable from `mlsysim.solvers`, under our names and the reference
simulator's (PyPI mlsysim 0.3.0 exports SingleNodeModel, TailLatencyModel, ...)."""

from __future__ import annotations

import pytest

import mlsysim.solvers as solvers


@pytest.mark.parametrize("name", solvers.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(solvers, name) is not None


def test_reference_names_are_our_solvers():
    from mlsysim.solvers.engine import Engine

    assert solvers.SingleNodeModel is Engine


def test_an_unknown_name_says_so():
    with pytest.raises(AttributeError, match="no attribute 'NoSuchModel'"):
        solvers.NoSuchModel  # noqa: B018
