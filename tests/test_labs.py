"""mlsysim.site.labs: the roofline explorer's exported catalog terms, its JavaScript physics
(run under node when it is installed) against Engine.solve and ServingModel, and the
optimization waterfall's steps.

Values are compared with what the solvers return on the same catalog, never with
literature numbers, so these tests hold for any catalog edition.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mlsysim import Engine
from mlsysim.catalog import load_catalog
from mlsysim.site.labs import script_assignment
from mlsysim.site.labs.explorer import ASSUMPTIONS, explorer_data
from mlsysim.site.labs.waterfall import OUTPUT_TOKENS, PROMPT_TOKENS, waterfall, waterfall_data
from mlsysim.solvers.gemm_waves import gemm_tile_values, wave_quantization
from mlsysim.solvers.kernel_efficiency import KERNELS, expert_gemm_value, kernel_efficiency_values
from mlsysim.solvers.pass_overheads import FP8_CAST, OPERATOR_FIXED_TIME, OPERATOR_MEMORY, kernel_launch_value
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT
from mlsysim.solvers.serving import ServingModel
from mlsysim.solvers.terms import applies_to, cited_assumption, hardware_terms, model_terms

REPO = Path(__file__).resolve().parent.parent
JS = REPO / "site_templates" / "labs" / "roofline.js"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def data(catalog):
    return explorer_data(catalog)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


# ---------------------------------------------------------------- exported JSON


def test_export_carries_every_assumption_the_solvers_read_with_its_citation(catalog, data):
    assert set(ASSUMPTIONS) <= set(data["assumptions"])
    idents = dict(ASSUMPTIONS)
    # The rest are the per-kernel efficiency records (routed-expert GEMMs included), the per-kernel times measured on one
    # accelerator (kernel: launch), the FP8 casts of the GEMM inputs (kernel: fp8_cast), the GEMM
    # tiles of other precisions (e.g. gemm_tile_rows_fp8), the convolution tile and the
    # element-wise operators' measured lines, under their own ids.
    extra = set(data["assumptions"]) - set(ASSUMPTIONS)
    assert {"gemm_efficiency_hopper_fp8", "kernel_launch_mi300x", "gemm_tile_rows_fp8", "gemm_tile_columns_fp8",
            "conv_tile_rows", "conv_tile_columns", "operator_fixed_time_hopper_fp16_relu",
            "operator_memory_efficiency_hopper_fp16_relu", "fp8_cast_bytes_per_element_h100"} <= extra
    for key in extra:
        qualifiers = catalog.get("assumptions", key).quantity.qualifiers
        assert (qualifiers.get("kernel") in (*KERNELS, "launch", "expert_gemm", FP8_CAST, OPERATOR_FIXED_TIME,
                                             OPERATOR_MEMORY)
                or key.startswith(("gemm_tile_rows_", "gemm_tile_columns_"))
                or key in ("conv_tile_rows", "conv_tile_columns")), key
        idents[key] = key
    for key, ident in idents.items():
        entry = data["assumptions"][key]
        value = cited_assumption(catalog, ident)
        assert entry["id"] == ident
        assert entry["si"] == value.si
        assert entry["source"] == value.source_id and entry["title"]
        # A web page, or a file in the catalog (a first-party report) that the zoo serves.
        assert entry["url"].startswith("http") or entry["source_file"] == value.source["path"]
        assert entry["qualifiers"] == {k: str(v) for k, v in value.qualifiers.items()}


def test_export_models_are_the_solvers_model_terms(catalog, data):
    assert len(data["models"]) >= 40
    fields = ("params_total", "matmul_flops", "attention_flops", "kv_elements", "read_params_dense", "expert_params",
              "moe_layers", "experts_total", "experts_active", "context", "kernels", "activation_elements")
    kinds = set()
    for entry in data["models"]:
        m = model_terms(catalog.get("models", entry["id"]))
        kinds.add(m.kind)
        assert entry["kind"] == m.kind and entry["encoder"] == m.encoder
        for name in fields:
            assert entry[name] == getattr(m, name), (entry["id"], name)
        assert [tuple(g) for g in entry["gemms"]] == list(m.gemms)
    assert kinds == {"transformer", "per_inference", "per_token"}
    # Models the roofline cannot place (no architecture, no cited FLOP count) are left out.
    ids = {e["id"] for e in data["models"]}
    for record in catalog.records("models"):
        if record.id not in ids:
            with pytest.raises(Exception):
                model_terms(record)


def test_export_hardware_peaks_roofs_and_applicable_overheads(catalog, data):
    launch = cited_assumption(catalog, "kernel_launch_overhead")
    probe = model_terms(catalog.get("models", "llama3_8b"))
    assert len(data["hardware"]) >= 40
    seen_wave = seen_no_launch = False
    for entry in data["hardware"]:
        record = catalog.get("hardware", entry["id"])
        assert entry["peaks"], entry["id"]
        for precision, peak in entry["peaks"].items():
            assert precision in BYTES_PER_ELEMENT
            h = hardware_terms(record, precision)
            assert peak == h.peak and entry["bandwidth"] == h.bandwidth and entry["capacity"] == h.capacity
            assert entry["wave"][precision] == wave_quantization(probe, h).wave
            seen_wave |= entry["wave"][precision] > 0
        value = kernel_launch_value(record)  # NVIDIA's null-kernel figure, or one cited for the accelerator
        assert (entry["launch"] is None) == (value is None)
        if value is not None:
            assert data["assumptions"][entry["launch"]]["si"] == value.si
            assert (entry["launch"] == "kernel_launch") == applies_to(launch, record)
        seen_no_launch |= entry["launch"] is None
        assert entry["cites"]["memory.bandwidth"]["source"]
    assert seen_wave and seen_no_launch
    mi300x = next(e for e in data["hardware"] if e["id"] == "mi300x")
    assert mi300x["launch"] == "kernel_launch_mi300x"


def test_export_names_the_kernel_efficiencies_the_solvers_choose(catalog, data):
    """Per accelerator and precision, the exported GEMM / attention / memory efficiency is the
    cited record `kernel_efficiency.kernel_efficiency_values` picks (what Engine.solve and ServingModel
    price a transformer pass at), and the routed experts' grouped-GEMM record
    `kernel_efficiency.expert_gemm_value` picks where there is one; the H100 has records of its own at
    fp16 and fp8, expert GEMMs included."""
    seen_specific = set()
    for entry in data["hardware"]:
        for precision, tile in entry["tiles"].items():  # the tile each wave term is made of
            cited = gemm_tile_values(catalog.get("hardware", entry["id"]), precision)
            assert data["assumptions"][tile["rows"]]["si"] == cited["rows"].si
            assert data["assumptions"][tile["columns"]]["si"] == cited["columns"].si
            assert entry["wave"][precision] > 0
        record = catalog.get("hardware", entry["id"])
        assert set(entry["efficiencies"]) == set(entry["peaks"])
        for precision, keys in entry["efficiencies"].items():
            h = hardware_terms(record, precision)
            chosen = dict(kernel_efficiency_values(h))
            expert = expert_gemm_value(h)
            if expert is not None:
                chosen["expert_gemm"] = expert
                seen_specific.add((entry["id"], precision, "expert_gemm"))
            assert set(keys) == set(chosen) == set(KERNELS) | ({"expert_gemm"} if expert is not None else set())
            for kernel, key in keys.items():
                exported = data["assumptions"][key]
                assert exported["si"] == chosen[kernel].si
                assert chosen[kernel].path == f"assumptions/{exported['id']}#quantity"
                if key not in ASSUMPTIONS:
                    seen_specific.add((entry["id"], precision, kernel))
    assert {("h100_sxm", "fp16", "gemm"), ("h100_sxm", "fp8", "gemm"), ("h100_sxm", "fp8", "attention"),
            ("h100_sxm", "fp8", "memory"), ("h100_sxm", "fp8", "expert_gemm"),
            ("h100_sxm", "bf16", "expert_gemm")} <= seen_specific


def test_script_assignment_cannot_close_the_script_element():
    text = script_assignment("window.X", {"a": "</script><!-- & \u2028"})
    assert "</" not in text and "<!--" not in text and "\u2028" not in text
    assert json.loads(text.split(" = ", 1)[1].rstrip(";\n")) == {"a": "</script><!-- & \u2028"}


def test_javascript_physics_has_no_literature_numbers():
    """The physics part of roofline.js may hold only 0, 1 and 2 (the causal triangle,
    clamps); every constant comes from the exported catalog."""
    source = JS.read_text(encoding="utf-8")
    physics = re.split(r"// -+ the physics", source)[1]
    physics = re.split(r"// -+ formatting", physics)[0]
    assert "function solve(" in physics
    literals = set(re.findall(r"(?<![\w.])(\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w.])", physics))
    assert literals <= {"0", "1", "2", "0.0", "1.0", "2.0"}, literals  # plus array indices 0..2


# ---------------------------------------------------------------- the JavaScript physics under node


NODE = shutil.which("node") or shutil.which("nodejs")


def _samples(data, rng: random.Random, count: int) -> list[dict]:
    out = []
    while len(out) < count:
        m = rng.choice(data["models"])
        h = rng.choice(data["hardware"])
        precision = rng.choice(sorted(h["peaks"]))
        batch = rng.choice([1, 2, 3, 8, 17, 64, 256, 1024])
        if m["kind"] == "per_inference":
            seq = 1
        else:
            seq = rng.choice([1, 7, 64, 128, 500, 2048, 4096])
            if m["context"] and seq > m["context"]:
                seq = int(m["context"])
        serving = m["kind"] == "transformer" and not m["encoder"] and not h["on_chip"]
        phase, wp, kvp = "prefill", precision, precision
        if serving and rng.random() < 0.4:
            phase = rng.choice(["prefill", "decode"])
            wp = rng.choice(["fp16", "fp8", "int4", "fp32", precision])
            kvp = rng.choice(["fp16", "fp8", "int8", precision])
        out.append({"model": m["id"], "hardware": h["id"], "precision": precision, "batch": batch, "seq": seq,
                    "phase": phase, "weight_precision": wp, "kv_precision": kvp})
    return out


def python_result(catalog, s: dict) -> dict:
    """What the solvers return for one explorer setting (see roofline.js `solve`)."""
    model, hw = catalog.get("models", s["model"]), catalog.get("hardware", s["hardware"])
    same = s["weight_precision"] == s["precision"] == s["kv_precision"]
    if s["phase"] == "prefill" and same:
        m = model_terms(model)
        p = Engine.solve(model, hw, batch_size=s["batch"], precision=s["precision"],
                         seq_len=None if m.kind == "per_inference" else s["seq"])
        return {"latency": p.si["latency"], "latency_compute": p.si["latency_compute"],
                "latency_memory": p.si["latency_memory"], "latency_overhead": p.si["latency_overhead"],
                "flops": p.si["flops"], "bytes_moved": p.si["bytes_moved"], "mfu": p.mfu, "mbu": p.mbu,
                "memory_usage": p.si["memory_usage"], "arithmetic_intensity": p.si["arithmetic_intensity"],
                "gemm_utilization": p.si["gemm_utilization"], "throughput": p.si["throughput"],
                "bottleneck": p.bottleneck, "feasible": p.feasible}
    serving = ServingModel(model, hw, precision=s["precision"], weight_precision=s["weight_precision"],
                           kv_precision=s["kv_precision"])
    t = serving.prefill(s["seq"], s["batch"]) if s["phase"] == "prefill" else serving.decode_step(s["seq"] - 1, s["batch"])
    fresh, past = (s["seq"], 0) if s["phase"] == "prefill" else (1, s["seq"] - 1)
    memory = serving.memory(s["batch"], fresh + past)
    h = serving.h
    return {"latency": t.time, "latency_compute": t.compute, "latency_memory": t.memory, "latency_overhead": t.launch,
            "flops": t.flops, "bytes_moved": t.bytes_moved, "mfu": t.flops / (t.time * h.peak),
            "mbu": t.bytes_moved / (t.time * h.bandwidth), "memory_usage": memory.total,
            "gemm_utilization": t.gemm_utilization, "throughput": s["batch"] / t.time, "feasible": memory.fits}


NUMBERS = ("latency", "latency_compute", "latency_memory", "latency_overhead", "flops", "bytes_moved", "mfu", "mbu",
           "memory_usage", "gemm_utilization", "throughput")


@pytest.mark.skipif(NODE is None, reason="node is not installed (the browser test checks the same in chromium)")
def test_javascript_physics_equals_the_solvers_under_node(catalog, data, tmp_path):
    """roofline.js `solve`, run by node on the exported data, against Engine.solve (equal
    precisions, prefill) and ServingModel (separate weight / KV formats, decode) for 300
    sampled settings, for mixtures of experts on the H100, whose routed experts run at
    their own cited grouped-GEMM figure, and for ResNet-50 on Hopper GPUs, whose element-wise
    operators run on their measured lines."""
    moe = [{"model": model, "hardware": "h100_sxm", "precision": precision, "batch": batch, "seq": seq,
            "phase": phase, "weight_precision": precision, "kv_precision": precision}
           for model in ("qwen3_30b_a3b", "mixtral_8x7b") for precision in ("fp8", "bf16")
           for batch, seq, phase in ((1, 2048, "prefill"), (64, 128, "prefill"), (32, 1024, "decode"))]
    # ResNet-50 on Hopper GPUs: its batch norms, ReLUs and residual adds take their measured lines.
    cnn = [{"model": "resnet50", "hardware": hw, "precision": "fp16", "batch": batch, "seq": 1, "phase": "prefill",
            "weight_precision": "fp16", "kv_precision": "fp16"}
           for hw in ("h200", "h100_sxm") for batch in (1, 32, 256)]
    samples = _samples(data, random.Random(16), 300) + moe + cnn
    (tmp_path / "data.js").write_text(script_assignment("window.MLSYSIM_ROOFLINE", data), encoding="utf-8")
    runner = tmp_path / "run.js"
    runner.write_text(
        "global.window = {}; global.document = {getElementById: function () { return null; }};\n"
        f"require({json.dumps(str(tmp_path / 'data.js'))});\n"
        "var D = window.MLSYSIM_ROOFLINE; var S = " + json.dumps(samples) + ";\n"
        "var physics = " + json.dumps(str(JS)) + ";\n"
        "try { require(physics); } catch (e) { }\n"  # the page wiring needs a DOM; the physics is exported first
        "function byId(l, i) { return l.filter(function (x) { return x.id === i; })[0]; }\n"
        "console.log(JSON.stringify(S.map(function (s) {\n"
        "  var m = byId(D.models, s.model), h = byId(D.hardware, s.hardware);\n"
        "  var dec = s.phase === 'decode';\n"
        "  return window.mlsysimRoofline.solve(m, h, s.precision, s.weight_precision, s.kv_precision, s.batch,"
        " dec ? 1 : s.seq, dec ? s.seq - 1 : 0);\n"
        "})));\n", encoding="utf-8")
    out = subprocess.run([NODE, str(runner)], capture_output=True, text=True, timeout=60, check=True)
    results = json.loads(out.stdout)
    engine_cases = 0
    for s, js in zip(samples, results):
        py = python_result(catalog, s)
        engine_cases += "bottleneck" in py
        for name in NUMBERS:
            assert _rel(js[name], py[name]) < 1e-9, (s, name, js[name], py[name])
        assert js["feasible"] == py["feasible"], s
        if "bottleneck" in py:
            assert js["bottleneck"] == py["bottleneck"], s
            assert _rel(js["arithmetic_intensity"], py["arithmetic_intensity"]) < 1e-9
    assert engine_cases >= 150


# ---------------------------------------------------------------- the waterfall


def _by_key(steps):
    return {s.key: s for s in steps}


def test_waterfall_dense_model_steps_are_the_serving_solver(catalog):
    model, hw = catalog.get("models", "llama3_8b"), catalog.get("hardware", "h100_sxm")
    steps = waterfall(model, hw)
    assert [s.key for s in steps] == ["baseline", "moe", "precision", "batching", "fusion", "speculative"]
    s = _by_key(steps)
    base = ServingModel(model, hw, precision="fp16").solve(PROMPT_TOKENS, OUTPUT_TOKENS, 1)
    assert s["baseline"].tokens_per_second == base.tokens_per_second and s["baseline"].itl == base.itl
    fp8 = ServingModel(model, hw, precision="fp8")
    assert s["precision"].tokens_per_second == fp8.solve(PROMPT_TOKENS, OUTPUT_TOKENS, 1).tokens_per_second
    largest = fp8.max_batch_size(PROMPT_TOKENS + OUTPUT_TOKENS)
    assert s["batching"].batch == largest > 1
    assert s["batching"].tokens_per_second == fp8.solve(PROMPT_TOKENS, OUTPUT_TOKENS, largest).tokens_per_second
    assert s["batching"].tokens_per_second > s["precision"].tokens_per_second > s["baseline"].tokens_per_second
    assert not s["moe"].expressible and "dense" in s["moe"].why
    assert not s["fusion"].expressible and "kernel_launch_overhead" in {c["id"] for c in s["fusion"].rests_on}
    assert not s["speculative"].expressible and "acceptance rate" in s["speculative"].why
    for step in steps:
        if step.expressible:
            # Each cites a web page, or a report file in the catalog (first-party measurements).
            assert step.rests_on and all(c["source"] and (c["url"].startswith("http") or c["source_file"])
                                         for c in step.rests_on)
            # The efficiencies the step's passes are priced at: on the H100 the GEMM, attention
            # and memory records cited for it at that precision (kernel_efficiency.kernel_efficiency_values).
            ids = {c["id"] for c in step.rests_on}
            assert "prefill_compute_efficiency" not in ids and "decode_memory_bandwidth_efficiency" not in ids
            assert {"gemm_efficiency_h100_16bit_median", "attention_efficiency_hopper_fp16",
                    "memory_efficiency_h100"} <= ids or {
                "gemm_efficiency_h100_fp8_median", "attention_efficiency_hopper_fp8",
                "memory_efficiency_hopper_fp8_gemm"} <= ids, (step.key, ids)
        else:
            assert step.why and step.tokens_per_second is None
    assert "hardware/h100_sxm#compute.fp8" in {c["id"] for c in s["precision"].rests_on}


def test_waterfall_moe_baseline_computes_every_expert(catalog):
    model, hw = catalog.get("models", "mixtral_8x7b"), catalog.get("hardware", "h200")
    s = _by_key(waterfall(model, hw))
    assert s["moe"].expressible and s["baseline"].expressible
    routed = ServingModel(model, hw, precision="fp16")
    assert s["moe"].tokens_per_second == routed.solve(PROMPT_TOKENS, OUTPUT_TOKENS, 1).tokens_per_second
    assert s["baseline"].tokens_per_second < s["moe"].tokens_per_second
    # The every-expert baseline reads each expert of every MoE layer in a one-token decode step.
    from mlsysim.site.labs.waterfall import _every_expert

    dense = ServingModel(model, hw, precision="fp16")
    _every_expert(dense, model)
    m = routed.m
    expected = (m.read_params_dense + m.moe_layers * m.expert_params * m.experts_total) * 2.0 + m.kv_elements * 2.0
    # and the activations its kernels read and write (pass_overheads.activation_traffic; the H200 cites no L2)
    expected += sum(dense.activations.bytes(1.0))
    assert _rel(dense.decode_step(0, 1).bytes_moved, expected) < 1e-12
    assert dense.m.matmul_flops > m.matmul_flops
    assert {c["id"] for c in s["moe"].rests_on} >= {"models/mixtral_8x7b#transformer.experts_active"}
    # The routed terms in the catalog's memo are untouched by the every-expert variant.
    assert model_terms(model).matmul_flops == m.matmul_flops


def test_waterfall_says_why_a_step_is_not_expressible(catalog):
    v100 = _by_key(waterfall(catalog.get("models", "llama3_8b"), catalog.get("hardware", "v100")))
    assert not v100["precision"].expressible and "fp8 or int8" in v100["precision"].why
    mi325x = _by_key(waterfall(catalog.get("models", "llama3_8b"), catalog.get("hardware", "mi325x")))
    assert not mi325x["fusion"].expressible and "No cited kernel-launch overhead applies" in mi325x["fusion"].why
    mi300x = _by_key(waterfall(catalog.get("models", "llama3_8b"), catalog.get("hardware", "mi300x")))
    assert {c["id"] for c in mi300x["fusion"].rests_on} == {"kernel_launch_mi300x"}


def test_waterfall_data_index_and_cases(catalog):
    index, per_model = waterfall_data(catalog)
    assert index["scenario"] == {"prompt_tokens": PROMPT_TOKENS, "output_tokens": OUTPUT_TOKENS}
    assert {m["id"] for m in index["models"]} == set(per_model)
    assert "llama3_8b" in per_model and "h100_sxm" in per_model["llama3_8b"]
    for model in index["models"]:
        assert model["hardware"] == list(per_model[model["id"]])
    steps = per_model["llama3_8b"]["h100_sxm"]
    for step in steps:
        assert all(key in index["cites"] for key in step["rests_on"])
    # A model too large for one accelerator has no case there.
    assert "h100_sxm" not in per_model.get("llama3_1_405b", {})


def test_site_build_writes_both_labs(tmp_path):
    from mlsysim.site.build import build_site

    out = tmp_path / "site"
    build_site(out)
    labs = out / "labs"
    for name in ("roofline.html", "waterfall.html", "roofline.js", "waterfall.js", "labs.css", "roofline-data.js",
                 "waterfall-data.js", "waterfall/llama3_8b.js"):
        assert (labs / name).is_file(), name
    html = (labs / "roofline.html").read_text(encoding="utf-8")
    assert 'src="../labs/roofline-data.js"' in html and "prefill_compute_efficiency" in html
    for label in ("lab-hardware", "lab-precision", "lab-model", "lab-batch", "lab-seq", "lab-weight-precision",
                  "lab-kv-precision", "lab-phase"):
        assert f'<label for="{label}"' in html


def test_site_build_of_a_catalog_without_the_assumptions_explains_it(tmp_path, fixture_catalog):
    from mlsysim.site.build import build_site

    out = tmp_path / "site"
    build_site(out, fixture_catalog)
    html = (out / "labs" / "roofline.html").read_text(encoding="utf-8")
    assert "cannot be built from this catalog" in html and "prefill_compute_efficiency" in html
    assert not (out / "labs" / "roofline-data.js").exists()
    assert (out / "labs" / "waterfall.html").is_file()
