"""Words for people: human labels for record fields, a cited value in engineering
units, and the spec card each kind shows at the top of a record page.

Numbers go through the shared formatter (`mlsysim.catalog.display`): engineering
prefixes, thousands separators, never scientific notation.
"""

from __future__ import annotations

import re

from mlsysim.catalog.display import format_count, format_number, format_quantity

# Field paths whose generic label (below) would read badly.
LABELS: dict[str, str] = {
    "release_year": "Release year",
    "tdp": "TDP (board power)",
    "memory.capacity": "Memory",
    "memory.bandwidth": "Memory bandwidth",
    "interconnect.name": "Interconnect",
    "interconnect.bandwidth": "Interconnect bandwidth",
    "compute_units": "Compute units",
    "unit_cost": "Unit cost",
    "cloud_price": "Cloud price",
    "parameters": "Parameters",
    "active_parameters": "Active parameters",
    "flops_per_inference": "FLOPs per inference",
    "input_shape": "Input shape",
    "transformer.layers": "Layers",
    "transformer.hidden_size": "Hidden size",
    "transformer.heads": "Attention heads",
    "transformer.kv_heads": "KV heads",
    "transformer.head_dim": "Head dimension",
    "transformer.ffn_size": "FFN size",
    "transformer.vocab_size": "Vocabulary size",
    "transformer.context_length": "Context length",
    "transformer.experts_total": "Experts",
    "transformer.experts_active": "Active experts",
    "ssm.layers": "SSM layers",
    "ssm.d_model": "Model width (d_model)",
    "ssm.d_state": "State size (d_state)",
    "ssm.vocab_size": "Vocabulary size",
    "carbon_intensity": "Carbon intensity",
    "electricity_price": "Electricity price",
    "water_intensity": "Water intensity",
    "pue": "PUE",
    "wue": "WUE",
    "accelerator_count": "Accelerators per node",
    "intra_node_bandwidth": "Intra-node bandwidth",
    "inter_node_bandwidth": "Inter-node bandwidth",
    "link_bandwidth": "Link bandwidth",
    "node_count": "Nodes",
    "latency_sla": "Latency SLA",
    "power_budget": "Power budget",
    "duration_days": "Duration [days]",
    "batch_size": "Batch size",
    "sequence_length": "Sequence length",
    "quantity": "Value",
}
_ACRONYMS = {
    "fp4", "fp6", "fp8", "fp16", "bf16", "tf32", "fp32", "fp64", "int4", "int8", "kv", "ffn", "ssm", "mlp", "moe",
    "pue", "wue", "tdp", "sla", "tp", "pp", "cp", "dp", "ep", "qk", "id", "gpu", "cpu", "mfu",
}


def _words(key: str) -> str:
    return " ".join(w.upper() if w in _ACRONYMS else w for w in key.split("_"))


def label(path: str) -> str:
    """A field path as people read it: 'compute.fp16' -> 'FP16 dense peak', 'release_year' -> 'Release year'."""
    if path in LABELS:
        return LABELS[path]
    head, _, rest = path.partition(".")
    if head in ("compute", "compute_sparse", "compute_dla", "compute_dla_sparse") and rest:
        kind = "sparse" if head.endswith("_sparse") else "dense"
        part = "DLA " if head.startswith("compute_dla") else ""
        return f"{_words(rest).replace('TENSOR', 'Tensor').replace(' tensor', ' Tensor')} {part}{kind} peak"
    text = " · ".join(_words(part) for part in path.split("."))
    return text[:1].upper() + text[1:]


def human_value(path: str, si: float, dimension: str) -> str:
    """A cited value in engineering units: '989.5 TFLOP/s', '3.35 TB/s', '8.03 billion'."""
    leaf = path.rsplit(".", 1)[-1]
    if dimension == "compute_rate" and re.match(r"int\d", leaf):
        return format_quantity(si, dimension, unit="OPS")
    if dimension == "dimensionless":
        if leaf.endswith("parameters") or abs(si) >= 1e6:
            return format_count(si)
        return format_count(si) if float(si).is_integer() else format_number(si)
    return format_quantity(si, dimension)


# The spec card at the top of a record page: the fields a reader looks for first,
# plain or cited, in this order (those a record lacks are left out).
SPEC_FIELDS: dict[str, tuple[str, ...]] = {
    "hardware": ("vendor", "release_year", "compute.fp16", "compute.bf16", "compute.fp8", "compute.int8",
                 "memory.capacity", "memory.bandwidth", "tdp", "interconnect.name"),
    "models": ("family", "architecture", "parameters", "active_parameters", "transformer.layers", "ssm.layers",
               "transformer.hidden_size", "ssm.d_model", "transformer.heads", "transformer.kv_heads",
               "transformer.context_length", "transformer.vocab_size", "ssm.vocab_size", "flops_per_inference"),
    "grids": ("region", "carbon_intensity", "electricity_price", "water_intensity"),
    "datacenters": ("pue", "wue", "grid"),
    "racks": ("power", "cooling"),
    "nodes": ("accelerator", "accelerator_count", "intra_node_bandwidth", "inter_node_bandwidth", "power",
              "unit_cost", "cloud_price"),
    "fabrics": ("technology", "link_bandwidth", "latency", "oversubscription"),
    "clusters": ("node", "node_count", "fabric", "datacenter"),
    "assumptions": ("quantity", "dimension"),
    "scenarios": ("application", "mode", "model", "hardware", "cluster", "precision", "batch_size", "latency_sla",
                  "power_budget"),
}
