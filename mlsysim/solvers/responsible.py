"""Responsible engineering: the compute and memory cost of differentially private training.

DP-SGD clips every example's gradient to norm C and adds Gaussian noise to the sum. Clipping
needs each example's gradient norm. Computed the direct way, every example's full gradient
is held at once:

  per-example gradient memory = batch x trainable parameters x bytes per gradient element   [B]

(Opacus: "if you want to train with batch size 64, you are looking to keep 64 copies of your
parameter gradients"). Ghost clipping gets each layer's per-example gradient norm from the
activations and output gradients it already holds, so it adds only the norms,

  ghost clipping memory = batch x layers x bytes per norm                                  [B]

at the price of a second backward pass. The time cost is a measured factor: the private
step's time over the non-private step's, read from cited benchmarks (never assumed), so the
private step time = non-private step time x that factor.

References
----------
Abadi et al. 2016, "Deep Learning with Differential Privacy", CCS, arXiv 1607.00133 (DP-SGD:
per-example clipping and Gaussian noise).
Yousefpour et al. 2021, "Opacus: User-Friendly Differential Privacy Library in PyTorch",
arXiv 2109.12298 (vectorised per-sample gradients).
Goodfellow 2015, "Efficient Per-Example Gradient Computations", arXiv 1510.01799, and
Li, Tramer, Liang & Hashimoto 2021, "Large Language Models Can Be Strong Differentially
Private Learners", arXiv 2110.05679 (ghost clipping).
Ullah, Zhang, Bullock & Mironov 2024, "Enabling Fast Gradient Clipping and Ghost Clipping in
Opacus", PyTorch blog (memory analysis and the measured times used as defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlsysim.catalog.records import Record
from mlsysim.catalog import inputs
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.results import result_dict

CLIPPING = ("vanilla", "ghost")
# Cited times per iteration (catalog/assumptions/): non-private and private, same model and batch.
STEP_TIME_NONPRIVATE = "dpsgd_opacus_bert_step_time_sgd_b128"
STEP_TIME_PRIVATE = {"vanilla": "dpsgd_opacus_bert_step_time_vanilla_b128",
                     "ghost": "dpsgd_opacus_bert_step_time_ghost_b128"}


def per_example_gradient_bytes(batch: Any, trainable_params: Any, bytes_per_element: Any) -> Any:
    """Memory to hold every example's full gradient at once [B] = batch [1] x trainable
    parameters [1] x bytes per gradient element [B]: DP-SGD's clipping computed directly.

    References
    ----------
    Abadi et al. 2016, arXiv 1607.00133; Yousefpour et al. 2021, arXiv 2109.12298.
    """
    return batch * trainable_params * bytes_per_element


def ghost_clipping_bytes(batch: Any, layers: Any, bytes_per_element: Any) -> Any:
    """Extra memory of ghost clipping [B] = batch [1] x layers [1] x bytes per stored norm [B]:
    one per-example gradient norm per layer (an additive O(B L) over non-private SGD).

    References
    ----------
    Li et al. 2021, arXiv 2110.05679; Ullah et al. 2024, PyTorch blog, "Memory Complexity Analysis".
    """
    return batch * layers * bytes_per_element


def overhead_factor(private_step_time: Any, nonprivate_step_time: Any) -> Any:
    """Measured DP-SGD time overhead [1] = private step time [s] / non-private step time [s]."""
    return private_step_time / nonprivate_step_time


@dataclass(frozen=True)
class PrivacyCostResult:
    """Memory and time cost of DP-SGD for one model and batch (SI floats)."""

    clipping: str
    batch_size: int
    trainable_params: float  # [1]
    layers: float  # [1]
    extra_memory: float  # [B] over non-private training: per-example gradients or per-example norms
    per_example_gradient_memory: float  # [B] what vanilla clipping would hold (for comparison)
    compute_overhead: float  # [1] private / non-private step time (cited measurement)
    step_time: float | None  # [s] private step time, if a non-private one was given
    nonprivate_step_time: float | None  # [s]
    fits: bool | None  # extra memory + base memory within capacity, if both given
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


class ResponsibleEngineeringModel:
    """DP-SGD cost: per-example gradient memory (or ghost clipping's norms) and the measured slowdown."""

    def solve(self, model: Record | None = None, *, batch_size: int, trainable_params: float | None = None,
              layers: float | None = None, clipping: str = "vanilla", gradient_bytes: float = 4.0,
              step_time: float | None = None, base_memory: float | None = None, capacity: float | None = None,
              catalog: Any = None) -> PrivacyCostResult:
        """
        model             a model record (its parameter count and layer count), or give
        trainable_params  [1] parameters that are trained (all of the model's by default)
        layers            [1] layers with a per-example norm (ghost clipping); default: the model's
                          transformer blocks, a lower bound (each block holds several linear layers)
        batch_size        [1] examples per (physical) batch
        clipping          "vanilla" (per-example gradients held) or "ghost"
        gradient_bytes    [B] per gradient element (4 = fp32)
        step_time         [s] non-private step time, to scale by the cited overhead
        base_memory, capacity  [B] non-private training memory and device capacity, to check fit
        """
        if clipping not in CLIPPING:
            raise MlsysimError(f"clipping must be one of {', '.join(CLIPPING)}, got {clipping!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise MlsysimError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        lineage = Lineage()
        params, n_layers = _sizes(model, trainable_params, layers, lineage)
        gb = _positive(gradient_bytes, "gradient_bytes", "B")
        catalog = inputs.catalog_of(model, catalog=catalog)
        from mlsysim.solvers.terms import cited_assumption

        t_private = lineage.use(cited_assumption(catalog, STEP_TIME_PRIVATE[clipping], "the DP-SGD time overhead", "DP-SGD cost model"))
        t_plain = lineage.use(cited_assumption(catalog, STEP_TIME_NONPRIVATE, "the DP-SGD time overhead", "DP-SGD cost model"))
        factor = overhead_factor(t_private, t_plain)
        full = per_example_gradient_bytes(batch_size, params, gb)
        if clipping == "vanilla":
            extra = full
        else:
            if n_layers is None:
                raise MlsysimError("ghost clipping needs the layer count: pass layers= or a model record with transformer.layers")
            extra = ghost_clipping_bytes(batch_size, n_layers, gb)
        private_time = None if step_time is None else _positive(step_time, "step_time", "s") * factor
        fits = None
        if base_memory is not None and capacity is not None:
            fits = _positive(base_memory, "base_memory", "B") + extra <= _positive(capacity, "capacity", "B")
        return PrivacyCostResult(clipping, batch_size, params, math.nan if n_layers is None else n_layers, extra, full,
                                 factor, private_time, step_time, fits, lineage)


def _positive(value: Any, name: str, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise MlsysimError(f"{name} must be a positive finite number [{unit}], got {value!r}")
    return float(value)


def _sizes(model: Record | None, trainable: Any, layers: Any, lineage: Lineage) -> tuple[float, float | None]:
    if model is not None and not isinstance(model, Record):
        raise MlsysimError(f"model must be a model record (e.g. Models.Language.Llama3_8B), got {model!r}")
    if trainable is not None:
        params = _positive(trainable, "trainable_params", "1")
    elif model is not None:
        from mlsysim.solvers.terms import model_terms

        m = model_terms(model)
        lineage.merge(m.lineage)
        params = m.params_total
    else:
        raise MlsysimError("pass model= or trainable_params=")
    if layers is not None:
        n_layers = _positive(layers, "layers", "1")
    elif model is not None and model.has("transformer.layers"):
        n_layers = lineage.use(model.field("transformer.layers"))
    else:
        n_layers = None
    return params, n_layers
