"""The quick-start calls whose outputs are pinned in tests/golden.json, run on the frozen
test catalog (tests/fixtures/frozen_catalog.json, a `mlsysim catalog snapshot` of the
bundled catalog), so a freshness update to the bundled catalog never moves them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FROZEN_CATALOG = Path(__file__).resolve().parent / "fixtures" / "frozen_catalog.json"


def _round(value: Any) -> Any:
    """12 significant digits: exact enough to see any change, blind to float noise."""
    return float(f"{value:.12g}") if isinstance(value, float) else value


def golden_outputs(frozen: Path) -> dict[str, Any]:
    from mlsysim.catalog import load_catalog
    from mlsysim.evaluate.evaluator import SystemEvaluator
    from mlsysim.solvers.distributed import DistributedModel
    from mlsysim.solvers.engine import Engine
    from mlsysim.solvers.serving import ServingModel
    from mlsysim.solvers.sustainability import SustainabilityModel

    cat = load_catalog(frozen)
    model, h100 = cat.get("models", "Llama3_8B"), cat.get("hardware", "H100")
    out: dict[str, Any] = {}
    profile = Engine.solve(model=model, hardware=h100, batch_size=1, precision="fp16")
    for name in ("latency", "throughput", "memory_usage"):
        out[f"engine.llama3_8b.h100.b1.{name}"] = profile.si[name]
    resnet = Engine.solve(model=cat.get("models", "ResNet50"), hardware=cat.get("hardware", "A100"), batch_size=1, precision="fp16")
    out["engine.resnet50.a100.b1.latency"] = resnet.si["latency"]
    serving = ServingModel(cat.get("models", "Llama3_70B"), cat.get("nodes", "DGX_H100"), tp=4,
                           weight_precision="fp16", kv_precision="fp8")
    r = serving.solve(prompt_tokens=1024, output_tokens=256, batch_size=16)
    out["serving.llama3_70b.dgx_h100.tp4.ttft"] = r.ttft
    out["serving.llama3_70b.dgx_h100.tp4.itl"] = r.itl
    out["serving.llama3_70b.dgx_h100.tp4.max_batch_size"] = r.max_batch_size
    train = DistributedModel().solve(cat.get("models", "GPT3"), cat.get("clusters", "Frontier_8K"), batch_size=1536,
                                     efficiency=cat.get("assumptions", "MFU_Megatron_1T"), tp=8, pp=12, devices=1536,
                                     recompute="full")
    out["distributed.gpt3.frontier_8k.step_time"] = train.step_time
    out["distributed.gpt3.frontier_8k.mfu"] = train.mfu
    ev = SystemEvaluator.evaluate(scenario_name="seed", model_obj=model, batch_size=256, precision="bf16", efficiency=0.45,
                                  fleet_obj=cat.get("clusters", "Research_256"), nodes=256, duration_days=30.0,
                                  grid="Quebec", datacenter="Hyperscale")
    for key, value in sorted(ev.macro.metrics.items()):
        if isinstance(value, (int, float)):
            out[f"evaluator.seed.macro.{key}"] = value
    sus = SustainabilityModel().solve(cat.get("clusters", "Research_256"), 30 * 86400, grid="US_Avg", datacenter="Hyperscale")
    out["sustainability.research_256.us_avg.operational_carbon"] = sus.operational_carbon
    return {k: _round(v) for k, v in out.items()}
