"""Analytical solvers. Pure functions over loaded records and cited assumptions;
they hold no literature numbers of their own.

Every solver class is importable from here (`from mlsysim.solvers import TailLatencyModel`),
including the names the reference simulator's documentation uses (`SingleNodeModel` is
`Engine`, ...). Modules load on first use, so `import mlsysim.solvers` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    # single device and serving
    "Engine": "engine", "PerformanceProfile": "engine", "ServingModel": "serving",
    "SpeculativeDecoding": "speculative", "DisaggregatedServing": "disaggregated",
    # fleets
    "DistributedModel": "distributed", "CNNTrainingModel": "cnn_training", "ReliabilityModel": "reliability",
    "SustainabilityModel": "sustainability", "EconomicsModel": "economics",
    # the toolbox
    "TailLatencyModel": "queueing", "ContinuousBatchingModel": "continuous_batching",
    "WeightStreamingModel": "weight_streaming", "TopologyModel": "topology",
    "ScalingModel": "scaling", "InferenceScalingModel": "scaling", "CheckpointModel": "checkpoint",
    "SensitivitySolver": "sensitivity", "SynthesisSolver": "synthesis", "CompressionModel": "compression",
    "DataModel": "data_pipeline", "TransformationModel": "data_pipeline", "OrchestrationModel": "orchestration",
    "ResponsibleEngineeringModel": "responsible", "EfficiencyModel": "efficiency",
    # optimizers and design-space exploration
    "ParallelismOptimizer": "optimizers", "BatchingOptimizer": "optimizers", "PlacementOptimizer": "optimizers",
    "DSE": "dse", "Space": "dse", "ParetoFront": "dse", "roofline_space": "dse",
}
# The reference simulator's (PyPI mlsysim 0.3.0) names for the same solvers.
_REFERENCE_NAMES = {"SingleNodeModel": "Engine"}

__all__ = sorted([*_EXPORTS, *_REFERENCE_NAMES])


def __getattr__(name: str) -> Any:
    target = _REFERENCE_NAMES.get(name, name)
    module = _EXPORTS.get(target)
    if module is None:
        raise AttributeError(f"module 'mlsysim.solvers' has no attribute {name!r}")
    value = getattr(import_module(f"mlsysim.solvers.{module}"), target)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
