"""Tests for mlsysim/solvers/dse.py (declarative design-space exploration, numpy and Dask)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlsysim.catalog import load_catalog
from mlsysim.errors import InfeasibleError, MlsysimError
from mlsysim.solvers.dse import DSE, Constraint, Space, pareto_mask, roofline_space
from mlsysim.solvers.sweep import sweep
from tests.conftest import FROZEN_CATALOG


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSYSIM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield load_catalog(FROZEN_CATALOG)


@pytest.fixture(scope="module")
def roofline(catalog):
    model = catalog.get("models", "llama3_8b")
    hardware = [catalog.get("hardware", "h100_sxm"), catalog.get("hardware", "a100_sxm_80gb")]
    space, rm = roofline_space(model, hardware, precisions=["fp16", "fp8"], batch_sizes=list(range(1, 129)),
                               seq_lens=[128, 1024, 4096])
    return model, hardware, space, rm


def staircase(cols):
    """a = x (minimise), b = y (maximise), for the hand-derived front below."""
    return {"a": cols["x"].astype(float), "b": cols["y"].astype(float)}


def _brute_front(values: np.ndarray) -> np.ndarray:
    """O(n^2) definition of the Pareto set (minimisation): nobody <= everywhere and < somewhere."""
    n = len(values)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        le = np.all(values <= values[i], axis=1)
        lt = np.any(values < values[i], axis=1)
        keep[i] = not np.any(le & lt)
    return keep


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.lists(st.integers(0, 4), min_size=3, max_size=120))
def test_pareto_mask_is_the_definition(k, flat):
    """Small integer grids force ties and duplicates, which must all be kept when non-dominated."""
    rows = len(flat) // k
    values = np.asarray(flat[: rows * k], dtype=float).reshape(rows, k)
    assert np.array_equal(pareto_mask(values), _brute_front(values))


def test_hand_derived_staircase_front():
    """x, y in 1..5 with y <= x; minimise a = x, maximise b = y. For each x the best b is y = x,
    and (x, x) never dominates (x', x') for x' > x (b is larger there), so the front is exactly
    the five diagonal points (1,1) ... (5,5), of 15 feasible rows out of 25."""
    dse = DSE(Space(x=range(1, 6), y=range(1, 6)), {"a": "min", "b": "max"}, ["y <= x"], model=staircase)
    front = dse.run()
    assert front["x"].tolist() == [1, 2, 3, 4, 5]
    assert front["y"].tolist() == [1, 2, 3, 4, 5]
    assert (front.evaluated, front.feasible) == (25, 15)
    assert front.best("b") == {"x": 5, "y": 5, "index": 24, "a": 5.0, "b": 5.0}


def test_roofline_front_rows_are_sweep_rows(roofline):
    """Every point the DSE returns equals the vectorised sweep (and so Engine.solve) for the
    same inputs, and the front is the brute-force front of the whole sweep table."""
    model, hardware, space, rm = roofline
    front = DSE(space, {"latency": "min", "throughput": "max"}, ["memory_usage <= memory_capacity"], model=rm).run()
    table = sweep(model, hardware, batch_sizes=list(range(1, 129)), precisions=["fp16", "fp8"], seq_lens=[128, 1024, 4096])
    key = {(h, p, int(b), int(t)): i for i, (h, p, b, t) in
           enumerate(zip(table["hardware"], table["precision"], table["batch_size"], table["seq_len"]))}
    for row in front.rows():
        system = rm.systems[row["system"]]
        i = key[(system.label, system.precision, row["batch_size"], row["seq_len"])]
        for name in ("latency", "throughput", "memory_usage", "memory_capacity", "mfu"):
            assert row[name] == table[name][i], name
    fits = table["feasible"]
    brute = _brute_front(np.column_stack([table["latency"][fits], -table["throughput"][fits]]))
    assert len(front) == int(brute.sum())
    assert sorted(front["latency"].tolist()) == sorted(table["latency"][fits][brute].tolist())
    assert front.feasible == int(fits.sum())


def test_the_chunking_does_not_change_the_front(roofline):
    _, _, space, rm = roofline
    objective = {"latency": "min", "throughput": "max", "memory_usage": "min"}
    whole = DSE(space, objective, ["memory_usage <= memory_capacity"], model=rm).run()
    small = DSE(space, objective, ["memory_usage <= memory_capacity"], model=rm, chunk_size=97).run()
    assert small.chunks == -(-space.size // 97)
    for name in whole.columns:
        assert np.array_equal(whole[name], small[name]), name


def test_dask_local_cluster_equals_numpy(roofline):
    """A 2-worker LocalCluster (threads, processes=False) returns the same front, row for row."""
    _, _, space, rm = roofline
    dse = DSE(space, {"latency": "min", "throughput": "max"}, ["memory_usage <= memory_capacity"], model=rm, chunk_size=500)
    local = dse.run()
    seen = []
    distributed = dse.run("local", workers=2, progress=lambda done, total: seen.append((done, total)))
    assert distributed.backend.startswith("dask")
    assert (distributed.evaluated, distributed.feasible) == (local.evaluated, local.feasible)
    for name in local.columns:
        assert np.array_equal(local[name], distributed[name]), name
    assert seen[-1] == (space.size, space.size) and len(seen) == distributed.chunks


def test_the_dask_job_pickles_without_its_catalog(roofline):
    """What is sent to process workers is floats and arrays: the lineage (records) stays here."""
    _, _, space, rm = roofline
    clone = pickle.loads(pickle.dumps(rm))
    cols = space.columns(0, 50)
    assert all(np.array_equal(a, b) for a, b in zip(rm(cols).values(), clone(cols).values()))
    assert len(pickle.dumps(rm)) < 100_000
    assert rm.lineage.entries() and not clone.lineage.entries()


def test_a_huge_space_is_never_materialised():
    """A 1e12-row space is declared and checked in constant memory (rows exist only per chunk)."""
    space = Space(a=np.arange(1_000_000), b=np.arange(1_000_000))
    assert space.size == 10**12
    dse = DSE(space, {"s": "min"}, model=lambda c: {"s": c["a"] + c["b"]})
    assert dse.chunk_size == 1_000_000
    cols = space.columns(space.size - 2, space.size)
    assert cols["a"].tolist() == [999_999, 999_999] and cols["b"].tolist() == [999_998, 999_999]


def test_progress_is_reported_per_chunk():
    seen = []
    DSE(Space(x=range(10)), {"x": "min"}, model=lambda c: {}, chunk_size=4).run(progress=lambda d, t: seen.append((d, t)))
    assert seen == [(4, 10), (8, 10), (10, 10)]


@pytest.mark.parametrize("kwargs, message", [
    ({"space": {"x": []}}, "axis 'x' has no values"),
    ({"objective": {"a": "lowest"}}, "direction 'lowest' is not 'min' or 'max'"),
    ({"objective": {"speed": "min"}}, "'speed' is neither an axis nor a metric the model returns; use one of a, b, index, x, y"),
    ({"constraints": ["a =< 3"]}, "write 'column op value'"),
    ({"constraints": ["a <= memory"]}, "'memory' is neither an axis nor a metric"),
    ({"chunk_size": 0}, "chunk_size must be a whole number of rows >= 1"),
    ({"objective": {}}, "give a mapping of metric -> 'min' or 'max'"),
])
def test_bad_inputs_say_what_to_fix(kwargs, message):
    args = {"space": {"x": [1, 2], "y": [1, 2]}, "objective": {"a": "min"}, "constraints": (), "model": staircase, **kwargs}
    with pytest.raises(MlsysimError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DSE(args.pop("space"), args.pop("objective"), args.pop("constraints"), **args)


def test_nothing_feasible_is_an_infeasible_error():
    dse = DSE(Space(x=[1, 2], y=[1, 2]), {"a": "min"}, [("a", ">", 10)], model=staircase)
    with pytest.raises(InfeasibleError, match="no feasible point among 4 evaluated: every row fails a > 10"):
        dse.run()


def test_an_unknown_scheduler_is_refused():
    dse = DSE(Space(x=[1]), {"x": "min"}, model=lambda c: {})
    with pytest.raises(MlsysimError, match="scheduler must be None"):
        dse.run(scheduler=42)


def test_constraint_forms():
    assert Constraint.parse("latency <= 0.05") == Constraint("latency", "<=", 0.05)
    assert Constraint.parse(("memory_usage", "<", "memory_capacity")) == Constraint("memory_usage", "<", "memory_capacity")
    with pytest.raises(MlsysimError, match="operator '=<' is not one of"):
        Constraint.parse(("a", "=<", 1))


def test_any_scheduler_address_is_accepted():
    """`run(address)` connects to a running scheduler (here an in-process LocalCluster's)."""
    import logging

    from distributed import LocalCluster

    dse = DSE(Space(x=range(1, 6), y=range(1, 6)), {"a": "min", "b": "max"}, ["y <= x"], model=staircase, chunk_size=4)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None, silence_logs=logging.CRITICAL) as cluster:
        front = dse.run(cluster.scheduler_address)
    assert front["x"].tolist() == [1, 2, 3, 4, 5] and front.backend == f"dask ({cluster.scheduler_address})"
