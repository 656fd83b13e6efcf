"""The solver spine: derived terms belong to their Catalog, calls never mix catalogs,
link bandwidths are read one way, every result has the same pint view, and solver code
holds no literature numbers."""

from __future__ import annotations

import ast
import gc
import weakref
from pathlib import Path

import pytest

from mlsysim import Engine, Hardware, Models, Systems
from mlsysim.catalog import default_catalog, load_catalog
from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError
from mlsysim.catalog.inputs import MixedCatalogsError
from tests import fleet_catalog
from tests.conftest import REPO

SOLVERS = REPO / "mlsysim" / "solvers"
MONTH = 30 * 86400


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """A copy of the bundled catalog whose Quebec grid is 1000x dirtier (so a result shows
    which catalog it was read from)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSYSIM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        root = fleet_catalog.build(tmp_path_factory.mktemp("other"))
        quebec = root / "grids" / "quebec.yaml"
        quebec.write_text(quebec.read_text().replace("  value: 360\n  unit: t/TWh", "  value: 360000\n  unit: t/TWh", 1))
        yield load_catalog(root)


def test_a_cluster_is_priced_with_its_own_catalogs_grid(other):
    """The review's case: a cluster from a test catalog with grid="Quebec" was priced with
    the bundled Quebec grid. The name is looked up in the cluster's catalog."""
    from mlsysim.solvers.sustainability import SustainabilityModel

    mine = SustainabilityModel().solve(other.get("clusters", "research_256"), MONTH, grid="Quebec", datacenter="Hyperscale",
                                       carbon_basis="direct")
    bundled = SustainabilityModel().solve(Systems.Clusters.Research_256, MONTH, grid="Quebec", datacenter="Hyperscale",
                                          carbon_basis="direct")
    assert mine.carbon_intensity == pytest.approx(bundled.carbon_intensity * 1000)
    assert mine.operational_carbon == pytest.approx(bundled.operational_carbon * 1000)


def test_records_from_two_catalogs_in_one_call_are_refused(other):
    from mlsysim.evaluate.evaluator import SystemEvaluator
    from mlsysim.solvers.distributed import DistributedModel
    from mlsysim.solvers.sustainability import SustainabilityModel

    cluster = other.get("clusters", "research_256")
    with pytest.raises(MixedCatalogsError, match="grids/quebec comes from the catalog at"):
        SustainabilityModel().solve(cluster, MONTH, grid=default_catalog().get("grids", "quebec"), datacenter="Hyperscale")
    with pytest.raises(MixedCatalogsError):
        Engine.solve(other.get("models", "llama3_8b"), Hardware.Cloud.H100)
    with pytest.raises(MixedCatalogsError):
        DistributedModel().solve(Models.Language.Llama3_8B, cluster, 256, "bf16", 0.5)
    with pytest.raises(MixedCatalogsError):
        SystemEvaluator.evaluate("mixed", Models.Language.Llama3_8B, fleet_obj=cluster, nodes=256, batch_size=256,
                                 precision="bf16", efficiency=0.5)
    with pytest.raises(MixedCatalogsError):
        SustainabilityModel().solve(Systems.Clusters.Research_256, MONTH, grid="US_Avg", datacenter="Hyperscale",
                                    catalog=other)


def test_solvers_never_pick_the_default_catalog():
    """Only the registries, the CLI and mlsysim.catalog.inputs (the input layer) pick it."""
    for path in sorted(SOLVERS.glob("*.py")):
        assert "default_catalog" not in path.read_text(), path.name


def test_derived_terms_live_and_die_with_their_catalog(tmp_path):
    """Every term a solve derives is kept on the Catalog it came from; dropping the catalog
    frees them (no module-level cache pins a record)."""
    from mlsysim.evaluate.evaluator import SystemEvaluator
    from mlsysim.solvers.serving import ServingModel

    catalog = load_catalog(fleet_catalog.build(tmp_path))
    model, h100 = catalog.get("models", "llama3_8b"), catalog.get("hardware", "h100_sxm")
    Engine.solve(model, h100)
    Engine.sweep(model, [h100], batch_sizes=[1, 2])
    ServingModel(model, catalog.get("nodes", "dgx_h100"), tp=2).solve()
    SystemEvaluator.evaluate("seed", model, batch_size=256, precision="bf16", efficiency=0.45,
                             fleet_obj=catalog.get("clusters", "research_256"), nodes=256, duration_days=30.0)
    assert {"model_terms", "hardware_terms", "roofline_terms", "fleets", "training_terms", "power_draw",
            "exposure", "prices", "best_layout"} <= set(catalog._derived)
    ref = weakref.ref(catalog)
    del catalog, model, h100
    gc.collect()
    assert ref() is None


def test_no_module_level_cache_holds_records():
    """Module globals of the solvers and the evaluator hold no dict, list or set of records
    or cited values (the memo of derived terms lives on the Catalog)."""
    import importlib

    names = [f"mlsysim.solvers.{p.stem}" for p in SOLVERS.glob("*.py") if p.stem != "__init__"]
    names += ["mlsysim.evaluate.evaluator", "mlsysim.catalog.inputs"]
    Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    for name in names:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, (dict, list, set)):
                items = value.values() if isinstance(value, dict) else value
                assert not any(isinstance(v, (Record, Value, tuple)) and _holds_record(v) for v in items), f"{name}.{attr}"


def _holds_record(value: object) -> bool:
    if isinstance(value, (Record, Value)):
        return True
    return isinstance(value, tuple) and any(_holds_record(v) for v in value)


def test_catalog_memo_can_be_cleared():
    catalog = default_catalog()
    Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    assert catalog.derived("model_terms")
    catalog.clear_derived()
    assert not catalog._derived
    assert Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100).bottleneck == "Memory"


def test_training_and_serving_read_a_link_bandwidth_the_same_way():
    """gcp_tpu_v5litepod_8 states 400 GBps of ICI bandwidth per chip, both directions added
    (Google's TPU v5e page, 'Bidirectional inter-chip interconnect (ICI) bandwidth (per
    chip)'). The training solver (Fleet) and the serving solver must both see 200 GB/s each way."""
    from mlsysim.catalog.inputs import per_direction
    from mlsysim.lineage import Lineage
    from mlsysim.solvers.fleet import Fleet

    node = Systems.Nodes.get("gcp_tpu_v5litepod_8")
    stated = node.intra_node_bandwidth
    assert stated.qualifiers["direction"] == "bidirectional"
    cluster_like = [c for c in default_catalog().records("clusters") if c.ref_id("node") == node.id]
    serving = per_direction(stated, Lineage())
    assert serving == pytest.approx(200e9)
    from mlsysim.solvers.serving import ServingModel

    assert ServingModel(Models.Language.Llama3_8B, node, precision="bf16", tp=2).link == serving
    if cluster_like:
        assert Fleet.from_cluster(cluster_like[0]).intra_bw == serving
    # The same reading through the training solver's reader, on a one-node cluster of it.
    assert Fleet._read(_cluster_of(node), None).intra_bw == serving


def _cluster_of(node: Record) -> Record:
    """A one-node cluster record of `node` in the node's own catalog (not loaded from disk)."""
    fabric = node._catalog.records("fabrics")[0]
    data = {"kind": "clusters", "id": "one_" + node.id, "name": "one node", "aliases": [], "file": "-", "group": None,
            "claims": {}, "refs": {"node": ("nodes", node.id), "fabric": ("fabrics", fabric.id)},
            "fields": {"node_count": 1}}
    return Record(data, node._catalog)


def test_a_link_bandwidth_without_a_direction_does_not_load(catalog_copy):
    """The direction qualifier is a schema enum on every interconnect bandwidth: a missing or
    unknown one is a located load error."""
    from mlsysim.catalog import check

    node = "systems/nodes/fixture_node.yaml"
    text = (Path(__file__).parent / "fixtures" / "catalog" / node).read_text()
    root = catalog_copy({node: text.replace("qualifiers: {direction: bidirectional}", "qualifiers: {}")})
    _, problems = check(root)
    assert [str(p) for p in problems] == [
        f"{node.removeprefix('')}:6:23: intra_node_bandwidth: qualifiers.direction: missing; a link bandwidth must say whether "
        "the source quotes one direction or both added together: write qualifiers: {direction: unidirectional} or "
        "{direction: bidirectional} or {direction: unstated}, as the source states"
    ]
    root = catalog_copy({node: text.replace("direction: bidirectional", "direction: both")})
    _, problems = check(root)
    assert len(problems) == 1 and "qualifiers.direction: unknown value 'both'; use one of unidirectional, bidirectional" in str(problems[0])


def test_every_result_has_one_pint_view():
    """SI floats on the result, `quantity(name)` (optionally converted) for people: the same
    for every solver."""
    from mlsysim.solvers.distributed import DistributedModel
    from mlsysim.solvers.economics import EconomicsModel
    from mlsysim.solvers.reliability import ReliabilityModel
    from mlsysim.solvers.serving import ServingModel
    from mlsysim.solvers.sustainability import SustainabilityModel

    profile = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    assert profile.quantity("latency").to("s").magnitude == profile.si["latency"]
    assert profile.quantity("latency", "ms").magnitude == pytest.approx(profile.si["latency"] * 1e3)
    assert profile.latency.to("ms").magnitude == pytest.approx(profile.si["latency"] * 1e3)
    cluster, model = Systems.Clusters.Research_256, Models.Language.Llama3_8B
    train = DistributedModel().solve(model, cluster, 256, "bf16", 0.5, 1, 1, zero=3, recompute="full")
    assert train.quantity("step_time", "ms").magnitude == pytest.approx(train.step_time * 1e3)
    assert train.quantity("memory_total", "GB").magnitude == pytest.approx(train.memory_total / 1e9)
    serve = ServingModel(model, Hardware.Cloud.H100).solve()
    assert serve.quantity("ttft", "ms").magnitude == pytest.approx(serve.ttft * 1e3)
    rel = ReliabilityModel().solve(cluster, 86400, model=model)
    assert rel.quantity("mtbf", "h").magnitude == pytest.approx(rel.mtbf / 3600)
    sus = SustainabilityModel().solve(cluster, MONTH, grid="US_Avg", datacenter="Hyperscale")
    assert sus.quantity("facility_energy", "MWh").magnitude == pytest.approx(sus.facility_energy / 3.6e9)
    econ = EconomicsModel().solve(cluster, MONTH, grid="US_Avg", datacenter="Hyperscale")
    assert econ.quantity("run_cost").magnitude == pytest.approx(econ.run_cost)
    with pytest.raises(MlsysimError, match="TrainingResult has no quantity 'speed'"):
        train.quantity("speed")


def test_one_name_per_idea():
    """tp everywhere: Engine/serving/training/search all say tp; the old names are gone or
    deprecated aliases."""
    import inspect

    from mlsysim.solvers.distributed import DistributedModel, Layout
    from mlsysim.solvers.serving import ServingModel

    assert "tp" in inspect.signature(DistributedModel.solve).parameters
    assert "tp" in inspect.signature(ServingModel).parameters
    assert "tp" in {f for f in Layout.__dataclass_fields__}
    with pytest.raises(MlsysimError, match="parallelism: unknown field 'tp_size'; did you mean 'tp'"):
        DistributedModel().solve(Models.Language.Llama3_8B, Systems.Clusters.Research_256, 256, "bf16", 0.5, tp_size=8)
    with pytest.warns(DeprecationWarning, match="write tp="):
        assert ServingModel(Models.Language.Llama3_8B, Systems.Nodes.DGX_H100, tensor_parallel=2).tp == 2


# ---------------------------------------------------------------------------- no literature numbers

# Numbers any solver may write: 0, 1, 2 and unit factors (SI prefixes, seconds per hour and
# day, the Julian year in days, bits per byte).
UNIT_FACTORS = {0, 1, 2, 1e3, 1e6, 1e9, 1e12, 1e-3, 1e-6, 1e-9, 3600, 86400, 365.25, 8}

# Every other number, where it may stand and why: equation coefficients of a cited model
# (written in the function's docstring with its reference), labels, and API defaults.
ALLOWED = {
    ("training_memory.py", "activation_bytes_per_layer", 5): "Korthikanti et al. 2022, Table 2 (5 a s / h)",
    ("training_memory.py", "activation_bytes_per_layer", 10): "Korthikanti et al. 2022, Table 2 (10 + 24 / t)",
    ("training_memory.py", "activation_bytes_per_layer", 24): "Korthikanti et al. 2022, Table 2 (10 + 24 / t)",
    ("training_memory.py", "activation_bytes_per_layer", 34): "Korthikanti et al. 2022, Table 2 (34 s b h)",
    ("training_layout.py", "<module>", 3): "ZeRO stage numbers 0-3 (labels, Rajbhandari et al. 2020)",
    ("training_sync.py", "<module>", 3): "an in-place gradient add reads two tensors and writes one (an element count)",
    ("distributed.py", "moe_dispatch_elements_per_token", 4.0): "Megatron-Core's dispatcher sorts the received tokens by local expert and restores them: two reads and two writes of k h (token_dispatcher.py)",
    ("distributed.py", "<module>", 0.5): "a causal mask keeps the lower triangle of the scores: half the work (Dao 2023, Sec. 3.1.1)",
    ("distributed.py", "<module>", 2.5): "FlashAttention's backward runs 5 matrix products to the forward's 2 (Dao 2023, Algorithm 2; its benchmarks count 2.5 x the forward's FLOPs)",
    ("training_layout.py", "LayoutSpace", 4): "interleave candidates (1, 2, 4) a search tries by default",
    ("training_layout.py", "LayoutSpace", 16): "largest microbatch a search tries by default",
    ("reliability.py", "daly_interval", 3): "Daly 2006, Eq. 37: 1 + (1/3) sqrt(delta/2M) + ...",
    ("reliability.py", "daly_interval", 9): "Daly 2006, Eq. 37: ... + (1/9) (delta/2M)",
    ("serving.py", "ServingModel", 512): "documented default prompt length of ServingModel.solve",
    ("serving.py", "ServingModel", 128): "documented default output length of ServingModel.solve",
    ("speculative.py", "SpeculativeDecoding", 512): "the default prompt length of ServingModel.solve, kept for SpeculativeDecoding.solve",
    ("speculative.py", "SpeculativeDecoding", 128): "the default output length of ServingModel.solve, kept for SpeculativeDecoding.solve",
    ("disaggregated.py", "DisaggregatedServing", 512): "the default prompt length of ServingModel.solve, kept for DisaggregatedServing.solve",
    ("disaggregated.py", "DisaggregatedServing", 128): "the default output length of ServingModel.solve, kept for DisaggregatedServing.solve",
    ("serving.py", "ServingModel", 0.5): "the P50 TTFT label of under_load",
    ("serving.py", "ServingModel", 0.99): "the P99 TTFT label of under_load",
    ("queueing.py", "<module>", 0.5): "the percentiles reported (P50, P95, P99): labels",
    ("queueing.py", "<module>", 0.95): "the percentiles reported (P50, P95, P99): labels",
    ("queueing.py", "<module>", 0.99): "the percentiles reported (P50, P95, P99): labels",
    ("queueing.py", "TailLatencyModel", 0.99): "the P99 waiting-time label",
    ("queueing.py", "_sojourn_quantile", 60): "bisection: at most 60 doublings of the upper bracket (numerical method)",
    ("queueing.py", "_sojourn_quantile", 200): "bisection: at most 200 halvings (numerical method)",
    ("queueing.py", "_sojourn_quantile", 1e-13): "bisection: relative tolerance (numerical method)",
    ("continuous_batching.py", "max_concurrency", 1e-12): "floating-point guard so an exact fit is not lost to round-off",
    ("continuous_batching.py", "waste_fraction", 1e-12): "floating-point guard against 0/0",
    ("scaling.py", "training_compute", 6.0): "Kaplan et al. 2020 / Hoffmann et al. 2022: C = 6ND (2 forward + 4 backward FLOPs per parameter per token)",
    ("scaling.py", "compute_optimal_allocation", 6.0): "Hoffmann et al. 2022: C = 6ND",
    ("scaling.py", "ratio_allocation", 6.0): "Hoffmann et al. 2022: C = 6ND",
    ("scaling.py", "ScalingModel", 6.0): "Hoffmann et al. 2022: C = 6ND (the default k)",
    ("weight_streaming.py", "WeightStreamingModel", 6.0): "Kaplan et al. 2020: 6 FLOPs per parameter per token in training",
    ("roofline.py", "<module>", 16): "NVFP4 format definition: 16 E2M1 elements per E4M3 block scale",
    ("roofline.py", "<module>", 32): "OCP MX format definition: 32 E2M1 elements per E8M0 block scale (MXFP4)",
    ("compression.py", "<module>", 4): "2:4 semi-structured sparsity: 2 kept of every 4 (format definition, Mishra et al. 2021)",
    ("compression.py", "_bits", 32): "widest numeric format a weight or activation may use (fp32)",
    ("compression.py", "CompressionModel", 16): "16-bit default weights and activations (fp16/bf16), the API default",
    ("compression.py", "CompressionModel", 0.5): "2:4 keeps half the weights (format definition)",
    ("compression.py", "CompressionModel", 4.0): "2:4: 2 of every 4 (format definition)",
    ("compression.py", "_sparsity", 0.5): "2:4 keeps half the weights (format definition)",
    ("compression.py", "_accuracy", 16): "16 bits: no quantization (fp16/bf16 baseline)",
    ("responsible.py", "ResponsibleEngineeringModel", 4.0): "fp32 per-example gradients: 4 bytes per element (format size), the API default",
    ("sensitivity.py", "log_elasticity", 0.5): "largest relative finite-difference step allowed (numerical method)",
    ("topology.py", "alltoall_bandwidth", 4): "all-to-all bound 4 (n-1) B / n^2 (Dally & Towles 2004, bisection argument)",
    ("topology.py", "_ring_mean_distance", 4): "mean distance on a ring of k: k/4 (even) or (k^2-1)/4k (odd)",
    ("topology.py", "fat_tree", 4): "smallest switch radix a fat tree is defined for",
    ("topology.py", "rail_optimized", 3): "hop counts: 1 same node, 2 same rail, 3 otherwise (topology definition)",
    ("topology.py", "rail_optimized", 3.0): "diameter 3 hops across rails (topology definition)",
    ("topology.py", "dragonfly", 3): "hop counts: local-global-local (Kim et al. 2008)",
    ("topology.py", "dragonfly", 3.0): "diameter 3 with direct global links (Kim et al. 2008)",
    ("topology.py", "dragonfly", 5.0): "diameter 5 via an intermediate group (Kim et al. 2008)",
    ("dse.py", "<module>", 9): "probe rows of the Pareto pre-filter: a speed setting, the front does not depend on it",
    ("optimizers.py", "<module>", 0.99): "the P99 latency label an SLA is stated on",
    ("optimizers.py", "ParallelismOptimizer", 5): "how many ranked layouts a result lists by default (API default)",
    ("cnn_training.py", "<module>", 9): "torch.optim.SGD with weight decay and momentum: three element-wise updates, each reading two tensors and writing one (PyTorch's documented algorithm)",
    ("convolution.py", "<module>", 7): "ResNet's 7x7 stem convolution (He et al. 2016, Table 1)",
    ("convolution.py", "<module>", 2): "ResNet's stride-2 stem, max pool and stage transitions (He et al. 2016, Table 1)",
    ("convolution.py", "<module>", 3): "3x3 convolutions in ResNet blocks and the RGB input (He et al. 2016, Table 1)",
    ("convolution.py", "<module>", 4): "the bottleneck block's 4x channel expansion (He et al. 2016, Table 1)",
    ("convolution.py", "<module>", 3.0): "a residual add reads two operands and writes one (an element count)",
}
FORMAT_TABLE = "BYTES_PER_ELEMENT"  # storage sizes of numeric formats: definitions, not measurements


def _literals(path: Path):
    """(enclosing top-level def or class, number, line) of every numeric literal in a module,
    outside the table of numeric-format sizes."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == FORMAT_TABLE for t in targets):
                skip |= {id(n) for n in ast.walk(node)}
    for top in tree.body:
        owner = top.name if isinstance(top, (ast.FunctionDef, ast.ClassDef)) else "<module>"
        for node in ast.walk(top):
            if (isinstance(node, ast.Constant) and type(node.value) in (int, float) and id(node) not in skip):
                yield owner, node.value, node.lineno


def test_solver_code_holds_no_literature_numbers():
    """A number in solver code is 0, 1, 2, a unit factor, a numeric-format size, or on the
    small explicit list above; literature constants live in catalog/assumptions/."""
    found = []
    for path in sorted(SOLVERS.glob("*.py")):
        for owner, value, line in _literals(path):
            if value in UNIT_FACTORS or (path.name, owner, value) in ALLOWED:
                continue
            found.append(f"{path.name}:{line} ({owner}): {value!r}")
    assert not found, "numbers in solver code; cite them in catalog/assumptions/ or derive them:\n" + "\n".join(found)


def test_the_allow_list_is_not_stale():
    """Every allowed entry is still used (a removed number leaves no hole to slip a new one into)."""
    used = {(p.name, owner, value) for p in SOLVERS.glob("*.py") for owner, value, _ in _literals(p)}
    assert set(ALLOWED) <= used, set(ALLOWED) - used
