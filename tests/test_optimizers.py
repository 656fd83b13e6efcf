"""Tests for mlsysim/solvers/optimizers.py (parallelism, batching and placement optimizers)."""

from __future__ import annotations

import math

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.errors import InfeasibleError, MlsysimError, OOMError, SLAViolation
from mlsysim.solvers.distributed import DistributedModel
from mlsysim.solvers.optimizers import (
    BatchingOptimizer,
    ParallelismOptimizer,
    PlacementOptimizer,
    erlang_quantile,
)
from mlsysim.solvers.serving import ServingModel
from tests import fleet_catalog

MONTH = 30 * 86400

# Two test grids for the placement crossover: A cheap and dirty, B dear and clean.
GRID_A = """id: test_grid_cheap_dirty
name: Test grid A (cheap, dirty)
region: XA
carbon_intensity_lifecycle: {value: 800, unit: gCO2e/kWh, source: arxiv-llama3-herd, valid_time: 2024, qualifiers: {basis: lifecycle, aggregator: test}, method: estimated, note: "test-local"}
electricity_price: {value: 0.05, unit: USD/kWh, source: arxiv-llama3-herd, valid_time: 2024, method: estimated, note: "test-local"}
"""
GRID_B = """id: test_grid_dear_clean
name: Test grid B (dear, clean)
region: XB
carbon_intensity_lifecycle: {value: 50, unit: gCO2e/kWh, source: arxiv-llama3-herd, valid_time: 2024, qualifiers: {basis: lifecycle, aggregator: test}, method: estimated, note: "test-local"}
electricity_price: {value: 0.10, unit: USD/kWh, source: arxiv-llama3-herd, valid_time: 2024, method: estimated, note: "test-local"}
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSYSIM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        root = fleet_catalog.build(tmp_path_factory.mktemp("opt"))
        (root / "grids" / "test_grid_cheap_dirty.yaml").write_text(GRID_A)
        (root / "grids" / "test_grid_dear_clean.yaml").write_text(GRID_B)
        yield load_catalog(root)


@pytest.fixture(scope="module")
def llama(catalog):
    return catalog.get("models", "llama3_8b")


@pytest.fixture(scope="module")
def research(catalog):
    return catalog.get("clusters", "research_256")


# ---------------------------------------------------------------------------- parallelism


def test_parallelism_counts_are_the_hand_derived_ones(llama, research):
    """Llama 3 8B (32 heads, 32 layers) on Research_256 (256 H100s, 8 per node), batch 256,
    microbatch 1, 1F1B, ZeRO 1, selective recomputation: tp in the divisors of 8 {1, 2, 4, 8}
    and pp in the divisors of 256 {1, 2, 4, ..., 256} (9 values) make 36 layouts. tp x pp
    must divide 256: it does not for (8, 64), (4, 128), (8, 128), (2, 256), (4, 256), (8, 256):
    6 layouts. Of the rest, pp must not exceed the 32 layers: (1|2|4, 64), (1|2, 128), (1, 256)
    fail: 6 more. Every tp divides the 32 heads and DP x 1 divides 256, so 24 remain, all of
    which fit (8B parameters sharded by ZeRO 1 over >= 1 replicas on 80 GB)."""
    r = ParallelismOptimizer().solve(llama, research, 256, microbatch=(1,), interleave=(1,), zero=(1,),
                                     recompute=("selective",))
    assert (r.evaluated, r.feasible) == (36, 24)
    assert sum(r.rejected.values()) == 12
    assert r.rejected["PP x interleave = N x N exceeds the N layers"] == 6
    assert sum(v for k, v in r.rejected.items() if "not divisible" in k) == 6
    assert "exceeds the 32 layers" in r.examples["PP x interleave = N x N exceeds the N layers"]["message"]


def test_parallelism_best_is_the_brute_force_best(llama, research):
    """The optimizer's best equals the fastest of DistributedModel.solve over every valid layout."""
    r = ParallelismOptimizer().solve(llama, research, 256, microbatch=(1, 2), interleave=(1, 2), zero=(0, 1, 3),
                                     recompute=("none", "full"), top_k=4)
    solver, times = DistributedModel(), []
    for tp in (1, 2, 4, 8):
        for pp in (1, 2, 4, 8, 16, 32):
            for mb in (1, 2):
                for v in (1, 2):
                    for zero in (0, 1, 3):
                        for mode in ("none", "full"):
                            try:
                                res = solver.solve(llama, research, 256, "bf16", None, tp, pp, microbatch=mb, interleave=v,
                                                   zero=zero, recompute=mode, sequence_parallel=True)
                            except MlsysimError:
                                continue
                            if res.feasible:
                                times.append(res.step_time)
    assert r.feasible == len(times)
    assert r.best.step_time == pytest.approx(min(times), rel=1e-12)
    assert [t.step_time for t in r.top] == sorted(times)[:4]
    by_mfu = ParallelismOptimizer().solve(llama, research, 256, microbatch=(1, 2), interleave=(1, 2), zero=(0, 1, 3),
                                          recompute=("none", "full"), objective="mfu")
    assert by_mfu.best.mfu == max(t.mfu for t in by_mfu.top)


def test_parallelism_reports_memory_rejections_and_refuses_when_nothing_fits(catalog, research):
    """GPT-3 175B with ZeRO 0 on 256 GPUs: tp x pp <= 8 x 32 leaves >= 175e9 x 16 B / 256 of
    optimizer state alone per device for small splits; without any split it cannot fit 80 GB."""
    gpt3 = catalog.get("models", "gpt3")
    r = ParallelismOptimizer().solve(gpt3, research, 256, zero=(0,), recompute=("full",), microbatch=(1,), interleave=(1,))
    assert r.rejected.get("does not fit in device memory", 0) > 0
    assert r.best.feasible
    with pytest.raises(OOMError, match="no layout of 1 fits: the smallest of these needs"):
        ParallelismOptimizer().solve(gpt3, research, 256, tp=(1,), pp=(1,), zero=(0,), recompute=("none",),
                                     microbatch=(1,), interleave=(1,))


def test_parallelism_with_nothing_that_divides_says_why(llama, research):
    with pytest.raises(InfeasibleError, match=r"no parallel layout divides the job \(256 devices, global batch 256\): 256 devices are not divisible by TP x PP x CP = 3 x 1 x 1"):
        ParallelismOptimizer().solve(llama, research, 256, tp=(3,), pp=(1,))
    with pytest.raises(MlsysimError, match="objective must be one of step_time, mfu"):
        ParallelismOptimizer().solve(llama, research, 256, objective="speed")


# ---------------------------------------------------------------------------- batching


def test_erlang_quantiles_by_hand():
    """k = 1: P(T > t) = e^(-rate t), so t99 = ln(100) / rate. k = 2: P(T > t) = e^(-x)(1 + x) with
    x = rate t, whose value at the P99 must be 0.01."""
    assert erlang_quantile(0.99, 1, 100.0) == pytest.approx(math.log(100) / 100, rel=1e-12)
    x = erlang_quantile(0.99, 2, 1.0)
    assert math.exp(-x) * (1 + x) == pytest.approx(0.01, rel=1e-10)
    assert x == pytest.approx(6.638352067, rel=1e-9)
    assert erlang_quantile(0.99, 0, 5.0) == 0.0


def test_batching_hand_derived_value():
    """S(b) = 5 ms + 1 ms x b, Poisson arrivals at 100/s, one replica, exponential service.
    b = 1: M/M/1 at lambda = 100/s, mu = 1/6 ms: P99 = ln(100)/(mu - lambda) = 69.08 ms.
    b = 2: batches arrive at 50/s, mu = 1/7 ms: queue P99 = ln(100)/(142.86 - 50) = 49.59 ms,
    plus the first request's wait for one more arrival, P99 ln(100)/100 = 46.05 ms: 95.65 ms.
    b = 3: 116.6 ms. With a 100 ms SLA the largest batch is 2; with 70 ms it is 1."""
    service = lambda b: 0.005 + 0.001 * b  # noqa: E731
    r = BatchingOptimizer().solve(service, 100.0, 0.100, max_batch=10)
    expected = math.log(100) / 100 + math.log(100) / (1 / 0.007 - 50)
    assert r.batch == 2
    assert r.p99_latency == pytest.approx(expected, rel=1e-9)
    assert r.points[0].p99_latency == pytest.approx(math.log(100) / (1 / 0.006 - 100), rel=1e-9)
    assert BatchingOptimizer().solve(service, 100.0, 0.070, max_batch=10).batch == 1
    with pytest.raises(SLAViolation, match=r"no batch meets the P99 SLA of 60 ms at 100 requests/s: the lowest P99 is 69.08 ms \(batch 1\)"):
        BatchingOptimizer().solve(service, 100.0, 0.060, max_batch=10)


def test_batching_overload_is_infeasible():
    with pytest.raises(InfeasibleError, match="1000 requests/s exceeds what 1 replica"):
        BatchingOptimizer().solve(lambda b: 1.0, 1000.0, 10.0, max_batch=10)
    with pytest.raises(MlsysimError, match="arrival_rate"):
        BatchingOptimizer().solve(lambda b: 1.0, -1.0, 10.0, max_batch=10)


def test_batching_an_llm_through_the_serving_model(catalog, llama):
    """S(b) is ServingModel's static-batch latency; the chosen batch meets the SLA and the next
    one (if it was evaluated) does not, and no batch exceeds the KV-cache capacity."""
    h100 = catalog.get("hardware", "h100_sxm")
    r = BatchingOptimizer().solve_serving(llama, h100, 2.0, 20.0, prompt_tokens=512, output_tokens=128)
    serving = ServingModel(llama, h100, "fp16")
    for p in r.points[:5]:
        assert p.service_time == serving.solve(512, 128, p.batch).latency
    assert r.p99_latency <= 20.0
    assert r.max_batch == serving.max_batch_size(640)
    later = [p for p in r.points if p.batch > r.batch]
    assert all(not p.meets_sla for p in later)
    with pytest.raises(MlsysimError, match="prompt_tokens and output_tokens are required"):
        BatchingOptimizer().solve_serving(llama, h100, 2.0, 20.0)


# ---------------------------------------------------------------------------- placement


def test_placement_crossover_carbon_price_is_hand_derived(catalog, research):
    """On one datacenter (same PUE, same capex) the two grids differ only in energy cost and
    carbon, both proportional to the same facility energy E: A costs E x 0.05 USD/kWh and emits
    E x 0.8 kg/kWh, B costs E x 0.10 and emits E x 0.05. B wins once the carbon price exceeds
    (0.10 - 0.05) / (0.8 - 0.05) USD/kg = 66.67 USD per tonne, whatever E is."""
    grids = ["test_grid_cheap_dirty", "test_grid_dear_clean"]
    below = PlacementOptimizer().solve(research, MONTH, carbon_price=60, grids=grids, datacenters=["hyperscale"])
    above = PlacementOptimizer().solve(research, MONTH, carbon_price=70, grids=grids, datacenters=["hyperscale"])
    assert below.best.grid == "test_grid_cheap_dirty" and above.best.grid == "test_grid_dear_clean"
    a, b = sorted(below.ranked, key=lambda o: o.grid)
    crossover = (b.run_cost - a.run_cost) / (a.operational_carbon - b.operational_carbon) * 1e3
    assert crossover == pytest.approx(0.05 / 0.75 * 1e3, rel=1e-9)
    assert a.total == pytest.approx(a.run_cost + 60 * a.operational_carbon / 1e3, rel=1e-12)


def test_placement_never_mixes_carbon_bases(catalog, research):
    """A grid without a direct intensity is skipped on the direct basis (with the reason),
    not compared with its lifecycle figure."""
    r = PlacementOptimizer().solve(research, MONTH, carbon_price=100, carbon_basis="direct",
                                   grids=["quebec", "test_grid_cheap_dirty"], datacenters=["hyperscale"])
    assert [o.grid for o in r.ranked] == ["quebec"]
    assert all(o.carbon_basis == "direct" for o in r.ranked)
    assert "states no direct carbon intensity" in r.skipped["test_grid_cheap_dirty @ hyperscale"]
    with pytest.raises(MlsysimError, match="no site could be compared on the direct basis"):
        PlacementOptimizer().solve(research, MONTH, carbon_basis="direct", grids=["test_grid_cheap_dirty"],
                                   datacenters=["hyperscale"])


def test_placement_pairs_datacenters_with_their_own_grid(catalog, research):
    r = PlacementOptimizer().solve(research, MONTH, carbon_price=150)
    pairs = {(o.grid, o.datacenter) for o in r.ranked}
    assert ("quebec", "quebec_hydro") in pairs and ("france", "quebec_hydro") not in pairs
    assert r.ranked == sorted(r.ranked, key=lambda o: o.total)
    assert any("no electricity_price" in why for why in r.skipped.values())
    with pytest.raises(MlsysimError, match="carbon_price must be a finite number >= 0"):
        PlacementOptimizer().solve(research, MONTH, carbon_price=-1)


def test_parallelism_zero_bubble_schedules(llama, research):
    """ZB-H1 and ZB-V (Qi et al. 2024) are solved one by one and ranked with the rest: asked
    for alone, every listed layout uses them and the best is the fastest DistributedModel.solve
    of the same candidates; added to the defaults, the best can only get faster."""
    kwargs = dict(tp=(1, 2), pp=(2, 4), microbatch=(1,), zero=(1,), recompute=("selective",))
    zb = ParallelismOptimizer().solve(llama, research, 256, schedule=("zb-h1", "zb-v"), **kwargs)
    assert {t.schedule for t in zb.top} <= {"zb-h1", "zb-v"}
    assert zb.evaluated == 2 * 2 * 2
    times = [DistributedModel().solve(llama, research, 256, "bf16", None, tp, pp, microbatch=1, zero=1,
                                      recompute="selective", schedule=sch, sequence_parallel=True).step_time
             for tp in (1, 2) for pp in (2, 4) for sch in ("zb-h1", "zb-v")]
    assert zb.best.step_time == min(times)
    both = ParallelismOptimizer().solve(llama, research, 256, schedule=("1f1b", "interleaved", "zb-h1", "zb-v"), **kwargs)
    plain = ParallelismOptimizer().solve(llama, research, 256, **kwargs)
    assert both.best.step_time <= min(plain.best.step_time, zb.best.step_time)
    assert both.evaluated == plain.evaluated + zb.evaluated
    with pytest.raises(MlsysimError, match="schedule 'gpipe' is not one of"):
        ParallelismOptimizer().solve(llama, research, 256, schedule=("gpipe",))
