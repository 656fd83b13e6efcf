"""The roofline explorer's data: the catalog reduced to the float terms `Engine.solve` uses.

The explorer (site_templates/labs/roofline.js) recomputes a forward pass in the browser
with the equations of `mlsysim.solvers.engine.solve_terms` and `ServingModel._pass`
(tensor parallelism 1). It needs, and this module exports, only:

- per model: the `terms.ModelTerms` floats (parameters, matmul and attention FLOPs per
  token, KV elements per token, the weights a pass reads, the routed-expert terms, the
  context length, kernels per pass and the weight GEMMs' shapes and FLOP shares);
- per accelerator: its dense peak at each precision the catalog states, memory bandwidth
  and capacity, and which cited overheads apply to it (the per-kernel launch time,
  `pass_overheads.kernel_launch_value`; the GEMM tile, per precision, with the SM count it multiplies);
- the cited assumptions the solvers read (the generic compute and memory-bandwidth
  efficiency, kernel launch overhead, GEMM tile rows / columns / tiles per SM), and every
  per-kernel efficiency record (weight GEMM, attention, memory traffic) that applies to
  some accelerator at some precision, each with its source; per accelerator and precision,
  which record each kernel class uses (`kernel_efficiency.kernel_efficiency_values`, the choice the
  solvers make: a transformer pass is priced at those, a model with a per-inference FLOP
  count at the generic two);
- the storage size of each numeric format (`roofline.BYTES_PER_ELEMENT`, definitions of
  the formats).

Nothing here is a literature number: every value is read from the catalog the site is
built from, with the citation that goes with it.
"""

from __future__ import annotations

from typing import Any

from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError
from mlsysim.solvers.convolution import ELEMENTWISE_OPERATORS, resnet_graph
from mlsysim.solvers.gemm_waves import (
    CONV_TILE_COLUMNS,
    CONV_TILE_ROWS,
    GEMM_TILES_PER_SM,
    GEMM_TILE_COLUMNS,
    GEMM_TILE_ROWS,
    gemm_tile_values,
    wave_quantization,
)
from mlsysim.solvers.kernel_efficiency import KERNELS, expert_gemm_value, kernel_efficiency_values, pass_efficiencies
from mlsysim.solvers.layer_terms import layer_terms, operator_line_values
from mlsysim.solvers.pass_overheads import FP8_CAST, L2_CACHE, kernel_launch_value
from mlsysim.solvers.plausibility import on_chip_memory
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT
from mlsysim.solvers.terms import (
    ACTIVATION_BYTES,
    COMPUTE_EFFICIENCY,
    KERNEL_LAUNCH,
    MEMORY_EFFICIENCY,
    applicable_assumption,
    cited_assumption,
    hardware_terms,
    model_terms,
)

# Key in the exported JSON -> assumption record id the solvers read (mlsysim.solvers.terms).
ASSUMPTIONS = {
    "compute_efficiency": COMPUTE_EFFICIENCY,
    "memory_efficiency": MEMORY_EFFICIENCY,
    "kernel_launch": KERNEL_LAUNCH,
    "gemm_tile_rows": GEMM_TILE_ROWS,
    "gemm_tile_columns": GEMM_TILE_COLUMNS,
    "gemm_tiles_per_sm": GEMM_TILES_PER_SM,
    "activation_bytes": ACTIVATION_BYTES,
}

# Hardware tiers and model families in the order the menus list them.
TIER_ORDER = ("cloud", "workstation", "edge", "mobile", "tiny")


def citation(value: Value, ident: str = "") -> dict[str, Any]:
    """A cited value as the labs show it: SI value, the unit as stated, and where it comes from."""
    source = value.source
    return {
        "id": ident,
        "si": float(value.si),
        "value": value.value,
        "unit": value.unit or "",
        "source": value.source_id,
        "title": str(source.get("title", "")),
        "url": str(source.get("url", "")),
        # A source that is a file in the catalog (the zoo serves it under files/), else "".
        "source_file": str(source.get("path", "")),
        "locator": value.locator or "",
        "as_stated": value.as_stated or "",
        "method": value.method or "stated",
    }


def assumptions(catalog: Any) -> dict[str, dict[str, Any]]:
    """The cited assumptions the roofline reads, with their qualifiers (who they apply to)."""
    out = {}
    for key, ident in ASSUMPTIONS.items():
        value = cited_assumption(catalog, ident)
        entry = citation(value, ident)
        entry["qualifiers"] = {k: str(v) for k, v in (value.qualifiers or {}).items()}
        entry["name"] = catalog.get("assumptions", ident).name
        out[key] = entry
    return out


def assumption_id(value: Value) -> str:
    """The id of the assumption record a cited value comes from ("assumptions/<id>#quantity")."""
    return value.path.split("/", 1)[1].split("#", 1)[0]


def kernel_efficiency_keys(record: Record, precisions: Any, table: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Per precision, the key in `table` (the exported assumptions) of the cited efficiency each
    kernel class ("gemm", "attention", "memory"; "convolution" for a CNN's FLOPs) uses on accelerator
    `record` (`kernel_efficiency.kernel_efficiency_values`), and "expert_gemm" where a mixture of experts'
    routed-expert grouped GEMMs have a figure scoped to it (`kernel_efficiency.expert_gemm_value`); records
    not yet in `table` are added to it, under their record id, with their citation."""
    out: dict[str, dict[str, str]] = {}
    for precision in precisions:
        h = hardware_terms(record, precision)
        chosen = kernel_efficiency_values(h)
        out[precision] = {kernel: _table_key(chosen[kernel], table) for kernel in KERNELS}
        expert = expert_gemm_value(h)
        if expert is not None:
            out[precision]["expert_gemm"] = _table_key(expert, table)
    return out


def _table_key(value: Value, table: dict[str, dict[str, Any]]) -> str:
    """The key of cited assumption `value` in `table`, adding it (under its record id) if absent."""
    ident = assumption_id(value)
    for key, entry in table.items():
        if entry["id"] == ident:
            return key
    entry = citation(value, ident)
    entry["qualifiers"] = {k: str(v) for k, v in (value.qualifiers or {}).items()}
    entry["name"] = value._catalog.get("assumptions", ident).name
    table[ident] = entry
    return ident


def _family(record: Record) -> str:
    return str(record.group or "")


def model_entry(record: Record) -> dict[str, Any] | None:
    """A model's float terms (`terms.ModelTerms`), or None when the roofline cannot place it."""
    try:
        m = model_terms(record)
    except MlsysimError:
        return None
    return {
        "id": record.id, "name": m.name, "title": record.name, "family": _family(record), "kind": m.kind,
        "params_total": m.params_total, "matmul_flops": m.matmul_flops, "attention_flops": m.attention_flops,
        "kv_elements": m.kv_elements, "window": m.window, "windowed_share": m.windowed_share,
        "read_params_dense": m.read_params_dense, "expert_params": m.expert_params,
        "moe_layers": m.moe_layers, "experts_total": m.experts_total, "experts_active": m.experts_active,
        "context": m.context, "kernels": m.kernels, "activation_elements": m.activation_elements,
        "peak_activation_elements": m.peak_activation_elements,
        "convolutional": m.convolutional, "steps": m.steps,
        "encoder": m.encoder, "gemms": [[n, share, split] for n, share, split in m.gemms],
        "hidden": m.hidden, "transformer_layers": m.layers,
        "layers": _layers(m),
        # A transformer's kernels by shape (transformer.activation_kernels): their class, count,
        # activation elements per token on one GPU and weight elements (pass_overheads.activation_traffic).
        "activation_kernels": [{"kind": k.kind, "count": k.count, "elements": k.elements(), "weights": k.weights}
                               for k in m.activations],
    }


def _layers(m: Any) -> dict[str, list[float]] | None:
    """The kernels of one unfused pass of a CNN with a described layer structure
    (`convolution.resnet_graph`, as Engine.solve prices it by default), or None."""
    if m.resnet is None:
        return None
    graph = resnet_graph(m.resnet)
    return {"rows": list(graph.rows), "columns": list(graph.columns), "flops": list(graph.flops),
            "activations": list(graph.activations), "weights": list(graph.weights), "operators": list(graph.operators)}


def hardware_entry(record: Record, probe: Any, table: dict[str, dict[str, Any]], cnn: Any = None) -> dict[str, Any] | None:
    """An accelerator's peaks per precision, memory roof, the overheads and per-kernel
    efficiencies that apply to it (keys into `table`, the exported assumptions, which gains
    the efficiency records it did not hold; see `kernel_efficiency_keys`), or None when it has no memory bandwidth and capacity or no known-format peak
    (`Engine.solve` needs all three). `probe` is a transformer model's terms, used to ask
    `gemm_waves.wave_quantization` whether (and why not) the cited GEMM tile applies; `cnn` a CNN's
    terms with a described layer structure, used to ask `layer_terms.layer_terms` the same of the
    cited convolution tile."""
    claims = record.claims
    if "memory.bandwidth" not in claims or "memory.capacity" not in claims:
        return None
    peaks = {}
    for path in claims:
        if path.startswith("compute."):
            precision = path.split(".", 1)[1]
            if precision in BYTES_PER_ELEMENT:
                peaks[precision] = hardware_terms(record, precision).peak
    if not peaks:
        return None
    catalog = record._catalog
    launch_value = kernel_launch_value(record)
    launch = _table_key(launch_value, table) if launch_value is not None else None
    cast_value = applicable_assumption(record, FP8_CAST)  # pass_overheads.input_cast at fp8
    fp8_cast = _table_key(cast_value, table) if cast_value is not None else None
    waves, reasons, tiles = {}, {}, {}
    for precision in peaks:
        w = wave_quantization(probe, hardware_terms(record, precision)) if probe is not None else None
        waves[precision] = w.wave if w is not None else 0.0
        reasons[precision] = w.reason if w is not None else "no transformer model to probe"
        if waves[precision]:  # the tile that wave is made of (its own records for fp8)
            tile = gemm_tile_values(record, precision)
            tiles[precision] = {"rows": _table_key(tile["rows"], table), "columns": _table_key(tile["columns"], table)}
    conv_waves, conv_tiles, conv_batches, operator_lines = {}, {}, {}, {}
    for precision in peaks:
        h = hardware_terms(record, precision)
        eff = pass_efficiencies(cnn, h) if cnn is not None else None
        layers = layer_terms(cnn, h, eff) if cnn is not None else None
        conv_waves[precision] = layers.wave if layers is not None else 0.0
        # The batch a whole-network convolution figure was measured at (its tile losses are in
        # it: `layer_terms.LayerTerms.efficiency_scale`); 0 where none applies.
        conv_batches[precision] = eff.measured_batch if eff is not None and conv_waves[precision] else 0.0
        # The element-wise operators priced on a measured line in the default layout
        # (layer_terms.operator_line_values): operator -> keys of its fixed time and bandwidth fraction.
        lines = {op: found for op in ELEMENTWISE_OPERATORS if (found := operator_line_values(h, op)) is not None}
        if lines:
            operator_lines[precision] = {op: {"fixed": _table_key(fixed, table), "efficiency": _table_key(memory, table)}
                                         for op, (fixed, memory) in lines.items()}
        if conv_waves[precision]:
            conv_tiles[precision] = {"rows": _table_key(cited_assumption(catalog, CONV_TILE_ROWS), table),
                                     "columns": _table_key(cited_assumption(catalog, CONV_TILE_COLUMNS), table)}
    first = hardware_terms(record, next(iter(peaks)))
    return {
        "id": record.id, "name": record.label, "title": record.name, "tier": str(record.get("tier", "")),
        "vendor": str(record.get("vendor", "")), "peaks": peaks, "bandwidth": first.bandwidth,
        "capacity": first.capacity, "launch": launch, "fp8_cast": fp8_cast, "wave": waves, "wave_reason": reasons,
        "tiles": tiles,
        "conv_wave": conv_waves, "conv_tiles": conv_tiles, "conv_measured_batch": conv_batches,
        "operator_lines": operator_lines,
        # The L2 a kernel's working set can stay in (convolution.layer_roofline_time,
        # pass_overheads.activation_traffic) [B]; 0: none stated.
        "l2_cache": record.field(L2_CACHE).si if record.has(L2_CACHE) else 0.0,
        "on_chip": on_chip_memory(record),
        "efficiencies": kernel_efficiency_keys(record, peaks, table),
        "cites": {path: citation(record.field(path)) for path in ("memory.bandwidth", "memory.capacity",
                                                                  *(f"compute.{p}" for p in peaks),
                                                                  *((L2_CACHE,) if record.has(L2_CACHE) else ()))},
    }


def explorer_data(catalog: Any) -> dict[str, Any]:
    """Everything the roofline explorer computes from, as plain JSON-able data."""
    models = [e for e in (model_entry(r) for r in catalog.records("models")) if e is not None]
    models.sort(key=lambda e: (e["family"], e["name"].lower()))
    probe = next((model_terms(catalog.get("models", e["id"])) for e in models if e["gemms"]), None)
    cnn = next((model_terms(catalog.get("models", e["id"])) for e in models if e["layers"]), None)
    table = assumptions(catalog)
    hardware = [e for e in (hardware_entry(r, probe, table, cnn) for r in catalog.records("hardware"))
                if e is not None]
    order = {tier: i for i, tier in enumerate(TIER_ORDER)}
    hardware.sort(key=lambda e: (order.get(e["tier"], len(order)), e["tier"], e["name"].lower()))
    ident = {k: v for k, v in dict(catalog.identity).items() if k in ("fingerprint", "date")}
    return {
        "catalog": ident,
        "bytes_per_element": dict(BYTES_PER_ELEMENT),
        "assumptions": table,
        "hardware": hardware,
        "models": models,
    }
