"""mlsysim: a cited catalog of ML-systems specifications with thin analytical solvers.

    >>> import mlsysim
    >>> mlsysim.Hardware.Cloud.H100.memory.bandwidth
    <hardware/h100_sxm#memory.bandwidth = 3.35 TB/s [...]>

Attributes are imported lazily so that `import mlsysim` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Hardware": "mlsysim.catalog.registry",
    "Models": "mlsysim.catalog.registry",
    "Infra": "mlsysim.catalog.registry",
    "Infrastructure": "mlsysim.catalog.registry",  # the reference simulator's name for Infra
    "Systems": "mlsysim.catalog.registry",
    "Assumptions": "mlsysim.catalog.registry",
    "load_catalog": "mlsysim.catalog",
    "Catalog": "mlsysim.catalog",
    "MlsysimError": "mlsysim.errors",
    "CatalogError": "mlsysim.errors",
    "NotFoundError": "mlsysim.errors",
    "InfeasibleError": "mlsysim.errors",
    "OOMError": "mlsysim.errors",
    "SLAViolation": "mlsysim.errors",
    "Q_": "mlsysim.catalog.units",
    "DistributedModel": "mlsysim.solvers.distributed",
    "CNNTrainingModel": "mlsysim.solvers.cnn_training",
    "ReliabilityModel": "mlsysim.solvers.reliability",
    "SustainabilityModel": "mlsysim.solvers.sustainability",
    "EconomicsModel": "mlsysim.solvers.economics",
    "SystemEvaluator": "mlsysim.evaluate.evaluator",
    "Scenarios": "mlsysim.evaluate.scenarios",

    "Engine": "mlsysim.solvers.engine",
    "PerformanceProfile": "mlsysim.solvers.engine",
    "ServingModel": "mlsysim.solvers.serving",
    "plot_roofline": "mlsysim.site.plot",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlsysim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
