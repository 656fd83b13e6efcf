"""The reference simulator's documented API runs unchanged (Harvard's MLSys·im, PyPI
mlsysim 0.3.0: its agent-facing documentation and hello-world tutorial), so its
students' notebooks work here. Our own names stay; the reference's are aliases."""

from __future__ import annotations

import pytest

DOCUMENTED_SNIPPET = '''
from mlsysim import Engine, Models, Hardware, SystemEvaluator, Systems
profile = Engine.solve(model=Models.Language.Llama3_8B, hardware=Hardware.Cloud.H100, batch_size=1, precision="fp16", efficiency=0.5)
profile.bottleneck; profile.latency; profile.throughput; profile.MFU; profile.feasible; profile.memory_usage
evaluation = SystemEvaluator.evaluate(scenario_name="docs", model_obj=Models.Language.Llama3_8B, hardware_obj=Hardware.Cloud.H100,
    batch_size=1024, precision="fp16", efficiency=0.45, fleet_obj=Systems.Clusters.Research_256, nodes=256, duration_days=30.0)
print(evaluation.scorecard())      # three lenses: feasibility, performance, macro
import mlsysim
model = mlsysim.Models.ResNet50; hardware = mlsysim.Hardware.Cloud.A100
model.name; model.architecture; model.inference_flops; hardware.name; hardware.release_year
hardware.compute.peak_flops.to("TFLOPs/s"); hardware.memory.bandwidth.to("TB/s")
profile.latency.to("ms"); f"{profile.throughput:.0f}"
fig, ax = mlsysim.plot_roofline(hardware, workloads=[model])
'''


def test_the_documented_snippet_runs_unchanged(capsys):
    namespace: dict = {}
    exec(compile(DOCUMENTED_SNIPPET, "reference-docs", "exec"), namespace)
    assert "Level 1: Feasibility" in capsys.readouterr().out
    assert namespace["profile"].MFU == namespace["profile"].mfu
    assert namespace["fig"] is namespace["ax"].figure


def test_reference_aliases_name_our_values():
    import mlsysim

    a100 = mlsysim.Hardware.Cloud.A100
    peak = a100.compute.peak_flops
    assert peak.path == "hardware/a100_sxm_80gb#compute.fp16"  # the headline (FP16) dense peak, and it says so
    assert peak.to("TFLOPs/s").magnitude == pytest.approx(312)
    resnet = mlsysim.Models.ResNet50
    assert resnet.inference_flops.path == resnet.flops_per_inference.path
    assert mlsysim.Models.ResNet50 is mlsysim.Models.Vision.ResNet50
