"""Engine.solve: the roofline of one forward pass (mlsysim/solvers/engine.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlsysim import Engine, Hardware, Models
from mlsysim.errors import MlsysimError
from mlsysim.solvers.kernel_efficiency import kernel_efficiencies
from mlsysim.solvers.pass_overheads import activation_traffic
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT
from mlsysim.solvers.serving import ServingModel
from mlsysim.solvers.terms import hardware_terms, model_terms


def test_quick_start_call_works_as_the_field_writes_it() -> None:
    profile = Engine.solve(model=Models.Language.Llama3_8B, hardware=Hardware.Cloud.H100, batch_size=1, precision="fp16")
    assert profile.bottleneck == "Memory"
    assert profile.latency.to("s").magnitude == pytest.approx(profile.si["latency"])
    assert profile.throughput.magnitude == pytest.approx(1 / profile.si["latency"])
    assert profile.feasible


def test_batch_one_decode_is_weight_streaming() -> None:
    """One token at batch 1 reads every weight once: latency = weight bytes / (bandwidth x efficiency)."""
    p = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    bandwidth = Hardware.Cloud.H100.memory.bandwidth.si
    # Llama 3 8B: about 8.0e9 parameters, of which the 0.53e9 input-embedding rows are not streamed.
    assert p.si["bytes_moved"] == pytest.approx(2 * (8.03e9 - 128256 * 4096), rel=0.01)
    assert p.si["latency_memory"] == pytest.approx(p.si["bytes_moved"] / (bandwidth * p.memory_efficiency))
    assert p.si["latency"] == pytest.approx(p.si["latency_memory"] + p.si["latency_overhead"])
    assert p.mbu == pytest.approx(p.memory_efficiency * p.si["latency_memory"] / p.si["latency"])


def test_kernel_launches_add_the_per_kernel_time_cited_for_the_accelerator() -> None:
    """Llama 3 8B launches 32 layers x 12 kernels + 3 per pass (transformer.kernels_per_forward_pass),
    each costing NVIDIA's null-kernel launch overhead on an NVIDIA GPU (about 3 us). On an
    MI300X each costs the fastest kernel Hugging Face's MI300 kernel post times, 1.92981 us (a
    fused SwiGLU + FP8 kernel on one 16,384-wide row, 'Creating custom kernels for the AMD
    MI300', SwiGLU results table); the MI325X has no per-kernel time of its own, so its pass
    has no overhead and its lineage lists neither figure."""
    from mlsysim.catalog import default_catalog

    catalog = default_catalog()
    launch = catalog.get("assumptions", "kernel_launch_overhead").quantity.si
    h100 = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    assert h100.si["latency_overhead"] == pytest.approx((32 * 12 + 3) * launch)
    assert "assumptions/kernel_launch_overhead#quantity" in h100.lineage
    assert h100.latency_overhead.to("ms").magnitude == pytest.approx(h100.si["latency_overhead"] * 1e3)
    mi300x = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.MI300X)
    assert mi300x.si["latency_overhead"] == pytest.approx((32 * 12 + 3) * 1.92981e-6)
    assert "assumptions/kernel_launch_mi300x#quantity" in mi300x.lineage
    assert "assumptions/kernel_launch_overhead#quantity" not in mi300x.lineage
    mi325x = Engine.solve(Models.Language.Llama3_8B, catalog.get("hardware", "mi325x"))
    assert mi325x.si["latency_overhead"] == 0
    assert "assumptions/kernel_launch_overhead#quantity" not in mi325x.lineage
    assert "assumptions/kernel_launch_mi300x#quantity" not in mi325x.lineage


def test_a_model_without_an_operator_graph_has_no_launch_overhead() -> None:
    """A model known only by its cited FLOPs per inference (no kernel count) has no launch
    overhead to charge: MobileNetV2 states no operator graph."""
    p = Engine.solve(Models.Vision.MobileNetV2, Hardware.Cloud.T4, precision="int8")
    assert p.si["latency_overhead"] == 0 and "assumptions/kernel_launch_overhead#quantity" not in p.lineage


def test_cnn_pays_one_launch_per_operator_and_moves_its_activations() -> None:
    """ResNet-50 (torchvision resnet.py): 174 operators of the unfused graph, 80,888,808
    activation elements read and written per image, each kernel priced on its own roofline.
    At batch 1 on an A100 the convolutions' few 128 x 128 tiles leave most SMs idle, the
    174 x 3 us launches add half a millisecond, and every kernel's working set fits in the
    40 MiB L2 (only the weights cross HBM); by batch 256 the activations stream through HBM
    and their traffic dominates (memory-bound), so a batch sweep changes bottleneck."""
    from mlsysim.solvers.convolution import resnet_graph
    from mlsysim.solvers.terms import model_terms

    resnet = Models.Vision.ResNet50
    weights = sum(resnet_graph(model_terms(resnet).resnet).weights)
    one = Engine.solve(resnet, Hardware.Cloud.A100, batch_size=1, precision="fp16")
    assert one.si["latency_overhead"] == pytest.approx(174 * 3e-6)
    assert one.si["bytes_moved"] == pytest.approx(weights * 2)
    many = Engine.solve(resnet, Hardware.Cloud.A100, batch_size=256, precision="fp16")
    assert 0.9 * (weights + 256 * 80_888_808) * 2 < many.si["bytes_moved"] < (weights + 256 * 80_888_808) * 2
    assert one.si["gemm_utilization"] < 0.1
    assert one.bottleneck != "Memory"
    assert Engine.solve(resnet, Hardware.Cloud.A100, batch_size=256, precision="fp16").bottleneck == "Memory"
    table = Engine.sweep(resnet, [Hardware.Cloud.A100], batch_sizes=[1, 2, 4, 8, 16, 32, 64, 128, 256])
    assert len(set(table.columns["bottleneck"])) >= 2
    # Batch 1 is more than one pass's overhead, and per-image time falls with the batch.
    assert one.si["latency"] > 0.5e-3
    assert table.columns["throughput"][-1] > 5 * table.columns["throughput"][0]


def test_eager_host_dispatch_floors_small_batches_and_hides_behind_large_ones() -> None:
    """Eager front ends issue kernels asynchronously (He 2022, "Making Deep Learning Go Brrrr",
    section Overhead): a pass takes at least operators x host time per operator. With the
    cited eager-PyTorch figure (TorchBench, 13.305 ms for ResNet-50's 174 operators) batch 1
    is host-bound at 13.3 ms on a V100, and batch 256, whose GPU work is longer, is not."""
    resnet = Models.Vision.ResNet50
    one = Engine.solve(resnet, Hardware.Cloud.V100, batch_size=1, precision="fp16",
                       host_dispatch="host_dispatch_pytorch_eager_cnn")
    assert one.si["latency_host"] == pytest.approx(13.305e-3, rel=1e-3)
    assert one.si["latency"] == one.si["latency_host"]
    assert one.bottleneck == "Overhead"
    assert "assumptions/host_dispatch_pytorch_eager_cnn#quantity" in {e.path for e in one.lineage.entries()}
    big = Engine.solve(resnet, Hardware.Cloud.V100, batch_size=256, precision="fp16", host_dispatch=76.47e-6)
    device = Engine.solve(resnet, Hardware.Cloud.V100, batch_size=256, precision="fp16")
    assert big.si["latency"] == device.si["latency"] > big.si["latency_host"]
    assert big.bottleneck == device.bottleneck != "Overhead"
    # Without host_dispatch nothing changes, and the host term is reported as zero.
    assert device.si["latency_host"] == 0.0
    assert "host_dispatch" not in str([e.path for e in device.lineage.entries()])


def test_host_dispatch_needs_an_operator_count_and_a_time() -> None:
    """A bad host_dispatch is a clear error, never a silent zero."""
    with pytest.raises(MlsysimError, match="host_dispatch"):
        Engine.solve("resnet50", "v100", host_dispatch=-1e-6)
    with pytest.raises(MlsysimError, match="not a time|is a "):
        Engine.solve("resnet50", "v100", host_dispatch="gemm_compute_efficiency")
    with pytest.raises(MlsysimError, match="no operator count"):
        Engine.solve("ds_cnn", "a100_sxm_80gb", precision="int8", host_dispatch=1e-5)


def test_long_prompt_is_compute_bound_and_mfu_is_the_efficiency() -> None:
    """MFU counts the pass's own FLOPs: the cited efficiency, less what wave quantization,
    kernel launches and the element-wise kernels' activation traffic (memory-bound,
    `latency_elementwise`) add to the time."""
    p = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, batch_size=4, seq_len=4096)
    assert p.bottleneck == "Compute"
    si = p.si
    ideal = si["flops"] / (Hardware.Cloud.H100.compute.fp16.si * p.compute_efficiency)
    assert ideal < si["latency_compute"]
    assert si["latency_elementwise"] > 0
    assert p.mfu == pytest.approx(p.compute_efficiency * ideal
                                  / (si["latency_compute"] + si["latency_elementwise"] + si["latency_overhead"]))


def test_precision_uses_that_precisions_peak() -> None:
    fp16 = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, batch_size=8, seq_len=2048, precision="fp16")
    fp8 = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, batch_size=8, seq_len=2048, precision="fp8")
    h100 = Hardware.Cloud.H100
    # Each precision has its own cited GEMM tile records on Hopper (16-bit: gemm_tile_rows_16bit;
    # fp8: CUTLASS's Hopper FP8 example, 64 x 128), so each has its own wave quantization.
    assert fp8.si["gemm_utilization"] < 1.0 and fp16.si["gemm_utilization"] < 1.0
    assert fp16.si["flops"] / fp8.si["flops"] == 1.0
    # Each precision has its own cited GEMM and attention efficiencies on the H100.
    gemm = 8 * 2048 * model_terms(Models.Language.Llama3_8B).matmul_flops
    other = fp16.si["flops"] - gemm
    for p, peak in ((fp16, h100.compute.fp16.si), (fp8, h100.compute.fp8.si)):
        expected = gemm / p.si["gemm_utilization"] / (peak * p.compute_efficiency) + other / (peak * p.attention_efficiency)
        assert p.si["latency_compute"] == pytest.approx(expected, rel=1e-12)
    assert fp8.si["memory_usage"] < fp16.si["memory_usage"]


def test_missing_precision_is_an_error_never_another_peak() -> None:
    """Jetson Orin NX lists INT8 TOPS and FP32 only; fp16 must not silently use INT8."""
    with pytest.raises(MlsysimError, match=r"JetsonOrinNX has no dense fp16 peak.*it lists: fp32, int8.*never substituted"):
        Engine.solve(Models.Language.Llama3_8B, Hardware.Edge.JetsonOrinNX, precision="fp16")


def test_unknown_precision_lists_the_known_ones() -> None:
    with pytest.raises(MlsysimError, match=r"unknown numeric format 'fp12'; use one of fp64, fp64_tensor, fp32"):
        Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, precision="fp12")


def test_lineage_lists_exactly_the_cited_inputs() -> None:
    p = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    paths = {e.path for e in p.lineage.entries()}
    assert {"hardware/h100_sxm#compute.fp16", "hardware/h100_sxm#memory.bandwidth", "hardware/h100_sxm#memory.capacity_usable",
            "models/llama3_8b#transformer.kv_heads", "assumptions/gemm_efficiency_h100_16bit_median#quantity",
            "assumptions/attention_efficiency_hopper_fp16#quantity",
            "assumptions/memory_efficiency_h100#quantity"} <= paths
    # The H100 at fp16 has GEMM, attention and memory records of its own: the generic figures are not inputs.
    assert "assumptions/prefill_compute_efficiency#quantity" not in paths
    assert "assumptions/decode_memory_bandwidth_efficiency#quantity" not in paths
    assert not any("interconnect" in path or "compute.fp8" in path for path in paths)
    # The fit used the usable capacity the H100 reports, so the marketed figure is not an input.
    assert "hardware/h100_sxm#memory.capacity" not in paths
    entry = next(e for e in p.lineage.entries() if e.path.endswith("memory.bandwidth"))
    assert entry.source_id == Hardware.Cloud.H100.memory.bandwidth.source_id and entry.source_title
    assert p.to_dict()["lineage"][0].keys() == {"path", "value", "unit", "source_id", "source_title", "method"}


def test_user_efficiency_replaces_the_cited_compute_efficiency_only() -> None:
    p = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, seq_len=2048, efficiency=0.5)
    assert p.compute_efficiency == 0.5 and p.efficiency_from_user
    assert "assumptions/prefill_compute_efficiency#quantity" not in p.lineage
    assert p.to_dict()["compute_efficiency_source"] == "user"
    with pytest.raises(MlsysimError, match=r"efficiency must be in \(0, 1\]"):
        Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, efficiency=1.5)


def test_cnn_uses_its_cited_flops_per_inference() -> None:
    """MobileNetV2 (no described layers) costs its cited FLOPs per inference; ResNet-50's FLOPs,
    counted over its described layers, agree with torchvision's cited 4.09 GMAC."""
    mobilenet = Models.Vision.MobileNetV2
    p = Engine.solve(mobilenet, Hardware.Cloud.T4, batch_size=32, precision="int8")
    assert p.si["flops"] == pytest.approx(32 * mobilenet.flops_per_inference.si)
    resnet = Models.Vision.ResNet50
    p = Engine.solve(resnet, Hardware.Cloud.T4, batch_size=32, precision="int8")
    assert p.si["flops"] == pytest.approx(32 * resnet.flops_per_inference.si, rel=1e-3)
    assert p.si["memory_usage"] == pytest.approx(resnet.parameters.si * 1 + 32 * 2_759_680 * 1)
    with pytest.raises(MlsysimError, match="seq_len applies to token models"):
        Engine.solve(resnet, Hardware.Cloud.T4, seq_len=16, precision="int8")


def test_bad_sizes_are_clear_errors() -> None:
    with pytest.raises(MlsysimError, match="batch_size must be a whole number >= 1, got 0"):
        Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, batch_size=0)
    with pytest.raises(MlsysimError, match="seq_len 9000 exceeds Llama3_8B's context length of 8192"):
        Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, seq_len=9000)


def test_infeasible_is_reported_not_hidden() -> None:
    p = Engine.solve(Models.Language.Llama3_1_405B, Hardware.Cloud.H100)
    assert not p.feasible and p.si["memory_usage"] > p.si["memory_capacity"]


def test_moe_reads_only_routed_experts_at_batch_one() -> None:
    """Mixtral 8x7B routes each token to 2 of 8 experts: a batch-1 step streams about the
    active parameters (~13B), a large batch touches every expert (~47B). The activations its
    kernels read and write (the H200 cites no L2 to keep them in) come on top."""
    mixtral = Models.Language.Mixtral_8x7B
    one = Engine.solve(mixtral, Hardware.Cloud.H200)
    many = Engine.solve(mixtral, Hardware.Cloud.H200, batch_size=256)
    traffic = activation_traffic(model_terms(mixtral), hardware_terms(Hardware.Cloud.H200, "fp16"))
    assert 12.5e9 * 2 < one.si["bytes_moved"] - sum(traffic.bytes(1.0)) < 14e9 * 2
    assert 45e9 * 2 < many.si["bytes_moved"] - sum(traffic.bytes(256.0)) < 47.5e9 * 2


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 512), seq=st.integers(1, 8192), precision=st.sampled_from(["fp16", "bf16", "fp8", "int8"]),
       hardware=st.sampled_from(["H100", "H200", "A100", "L4", "MI300X"]))
def test_roofline_invariants(batch: int, seq: int, precision: str, hardware: str) -> None:
    hw = Hardware.get(hardware)
    if f"compute.{precision}" not in hw.claims:
        return
    p = Engine.solve(Models.Language.Llama3_8B, hw, batch_size=batch, seq_len=seq, precision=precision)
    si = p.si
    assert si["latency"] >= si["latency_compute"] and si["latency"] >= si["latency_memory"]
    # Each kernel class (weight GEMMs, attention) is bounded by its own roofs and the classes
    # run one after another: at least the whole-pass roofline, at most both roofs added.
    roofline = si["latency"] - si["latency_overhead"] - si["latency_quantization"]
    assert roofline >= max(si["latency_compute"], si["latency_memory"]) * (1 - 1e-12)
    assert roofline <= (si["latency_compute"] + si["latency_memory"]) * (1 + 1e-12)
    best = max(p.compute_efficiency, p.attention_efficiency)  # weight GEMMs and attention, each at its own
    assert p.mfu <= best + 1e-12 and p.mbu <= p.memory_efficiency + 1e-12
    assert (p.bottleneck == "Compute") == (si["latency_compute"] > si["latency_memory"])
    assert si["memory_usage"] >= Models.Language.Llama3_8B.parameters.si * 0.99 * BYTES_PER_ELEMENT[precision]
    assert 0.0 < si["gemm_utilization"] <= 1.0
    assert si["latency_compute"] >= si["flops"] / (hw.compute[precision].si * best) * (1 - 1e-12)
    # More work never takes less time. (Throughput may fall as the batch grows: one more
    # sequence can add a wave of GEMM tiles that is mostly empty -- wave quantization.)
    bigger = Engine.solve(Models.Language.Llama3_8B, hw, batch_size=batch + 1, seq_len=seq, precision=precision)
    assert bigger.si["latency"] >= si["latency"]


def test_a_solve_stays_off_the_heavy_imports(tmp_path) -> None:
    """A fresh process that imports and solves once loads neither numpy, pint nor pydantic
    (the validated catalog is cached; Quantities are built only when a person reads one)."""
    import subprocess
    import sys

    code = ("import sys\nfrom mlsysim import Engine, Models, Hardware\n"
            "p = Engine.solve(model=Models.Language.Llama3_8B, hardware=Hardware.Cloud.H100)\n"
            "print(sorted(m for m in ('numpy', 'pint', 'pydantic', 'typer', 'matplotlib') if m in sys.modules))")
    run = lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)  # noqa: E731
    run()  # the first run may validate the catalog into the cache
    assert run().stdout.strip() == "[]"


def test_a_node_stands_for_its_accelerator() -> None:
    from mlsysim import Systems

    node = Engine.solve(Models.Language.Llama3_8B, Systems.Nodes.DGX_H100)
    gpu = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    assert node.si == gpu.si and node.hardware == "H100"


def _hand_slowdown(hardware, model: str, tokens: int) -> float:
    """The quantization slowdown worked by hand from the layer shapes (the guide's rules:
    tiles = ceil(M / tile rows) x ceil(N / tile columns), waves = ceil(tiles / SMs), each wave
    as long as a full tile of min(M, tile rows) rows)."""
    import math

    from mlsysim.catalog import default_catalog
    from mlsysim.solvers.transformer import TransformerShape, matmul_weights_per_token, weight_gemms

    catalog = default_catalog()
    rows, columns = (catalog.get("assumptions", n).quantity.si for n in ("gemm_tile_rows", "gemm_tile_columns"))
    wave = hardware.compute_units.si * catalog.get("assumptions", "gemm_tiles_per_sm_wave").quantity.si
    shape = TransformerShape.from_record(Models.get(model))
    total = 0.0
    for g in weight_gemms(shape):
        tiles = math.ceil(tokens / rows) * math.ceil(g.outputs / columns)
        charged = math.ceil(tiles / wave) * wave * min(tokens, rows) * columns
        total += g.weights / matmul_weights_per_token(shape) * charged / (tokens * g.outputs)
    return total


def test_short_prompt_gemms_leave_most_sms_idle() -> None:
    """LLaMA 2 7B, 128-token prompt on an A100 (108 SMs): one 256-row band of tiles, 96 tiles
    for Q/K/V, 32 for the attention output and MLP down, 86 for up and gate, 250 for the
    output projection: about 54% of the SM time does work. The weight-GEMM compute time is
    divided by that, the attention FLOPs are not (they run at the attention efficiency)."""
    from mlsysim.solvers.terms import hardware_terms, model_terms

    a100 = Hardware.Cloud.A100
    p = Engine.solve(Models.get("llama2_7b"), a100, seq_len=128)
    slowdown = _hand_slowdown(a100, "llama2_7b", 128)
    assert p.si["gemm_utilization"] == pytest.approx(1 / slowdown, rel=1e-12)
    assert p.si["gemm_utilization"] == pytest.approx(0.538, abs=0.001)
    peak = hardware_terms(a100, "fp16").peak
    gemm = 128 * model_terms("llama2_7b").matmul_flops
    expected = gemm * slowdown / (peak * p.compute_efficiency) + (p.si["flops"] - gemm) / (peak * p.attention_efficiency)
    assert p.si["latency_compute"] == pytest.approx(expected, rel=1e-12)


def test_long_prompts_fill_the_waves() -> None:
    """With 2048 tokens (8 bands of 256 rows) the same GEMMs run 768, 256 and 688 tiles:
    most waves are full and the utilization is near 0.87."""
    a100 = Hardware.Cloud.A100
    p = Engine.solve(Models.get("llama2_7b"), a100, seq_len=2048)
    assert p.si["gemm_utilization"] == pytest.approx(1 / _hand_slowdown(a100, "llama2_7b", 2048), rel=1e-12)
    assert 0.85 < p.si["gemm_utilization"] < 0.9


def test_wave_quantization_is_listed_in_the_lineage_when_used() -> None:
    p = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, seq_len=512)
    paths = {e.path for e in p.lineage.entries()}
    assert {"hardware/h100_sxm#compute_units", "assumptions/gemm_tile_rows_16bit#quantity",
            "assumptions/gemm_tile_columns_16bit#quantity", "assumptions/gemm_tiles_per_sm_wave_16bit#quantity"} <= paths
    assert p.si["gemm_utilization"] < 1.0


def test_b200_16bit_gemms_quantize_over_its_148_sms() -> None:
    """pytorch/ao pull request 4002 queries an NVIDIA B200's device properties: "Number of
    SMs: 148". With that SM count the B200's 16-bit weight GEMMs take the wave term of the
    default cuBLAS tile, as the other NVIDIA GPUs without a tile of their own do; its FP8 and
    FP4 GEMMs have no tile cited for Blackwell, so they take none."""
    from mlsysim.solvers.gemm_waves import wave_quantization
    from mlsysim.solvers.terms import hardware_terms, model_terms

    b200 = Hardware.get("B200")
    assert b200.compute_units.si == 148
    p = Engine.solve(Models.Language.Llama3_8B, b200, seq_len=128, precision="bf16")
    assert "hardware/b200#compute_units" in {e.path for e in p.lineage.entries()}
    assert p.si["gemm_utilization"] < 1.0
    assert "not B200" in wave_quantization(model_terms(Models.Language.Llama3_8B), hardware_terms(b200, "fp8")).reason


@pytest.mark.parametrize("hardware, precision, why", [
    ("MI300X", "fp16", "has no compute_units"),
    ("H100", "int8", "the cited GEMM tile is for fp16, not int8"),
])
def test_no_wave_term_without_a_cited_sm_count_or_tile(hardware: str, precision: str, why: str) -> None:
    """The term needs the accelerator's cited SM count and a tile cited for its precision;
    without them the GEMMs run at the cited efficiency alone and nothing is listed."""
    from mlsysim.solvers.gemm_waves import wave_quantization
    from mlsysim.solvers.terms import hardware_terms, model_terms

    from mlsysim.solvers.roofline import gemm_flops
    from mlsysim.solvers.kernel_efficiency import kernel_efficiencies

    hw = Hardware.get(hardware)
    p = Engine.solve(Models.Language.Llama3_8B, hw, seq_len=128, precision=precision)
    assert p.si["gemm_utilization"] == 1.0
    eff = kernel_efficiencies(hardware_terms(hw, precision))
    gemm = gemm_flops(model_terms(Models.Language.Llama3_8B), 1, 128)
    peak = hw.compute[precision].si
    assert p.si["latency_compute"] == pytest.approx(gemm / (peak * eff.gemm) + (p.si["flops"] - gemm) / (peak * eff.attention))
    assert not any("gemm_tile" in e.path or "compute_units" in e.path for e in p.lineage.entries())
    assert why in wave_quantization(model_terms(Models.Language.Llama3_8B), hardware_terms(hw, precision)).reason


def test_a_cnn_without_described_layers_has_no_wave_term() -> None:
    """A model known only by its FLOPs per inference has no GEMM shapes to tile; ResNet-50's
    described layers have (its convolutions' implicit GEMMs)."""
    p = Engine.solve(Models.Vision.MobileNetV2, Hardware.Cloud.A100)
    assert p.si["gemm_utilization"] == 1.0
    assert Engine.solve(Models.Vision.ResNet50, Hardware.Cloud.A100).si["gemm_utilization"] < 1.0


@settings(max_examples=200, deadline=None)
@given(tokens=st.integers(1, 20000), tp=st.sampled_from([1, 2, 4, 8]), model=st.sampled_from(["llama2_70b", "Llama3_8B", "Mixtral_8x7B", "DeepSeek_V3"]))
def test_more_tokens_never_take_less_gemm_time(tokens: int, tp: int, model: str) -> None:
    """Tile quantization (a partial tile costs a full one) keeps the quantized GEMM time
    tokens x slowdown from ever falling when a token is added, and the slowdown is >= 1."""
    from mlsysim.solvers.gemm_waves import wave_quantization
    from mlsysim.solvers.terms import hardware_terms, model_terms

    waves = wave_quantization(model_terms(Models.get(model)), hardware_terms(Hardware.Cloud.H100, "fp16"), tp)
    assert waves.wave == 132
    now, after = waves.slowdown(tokens), waves.slowdown(tokens + 1)
    assert now >= 1 - 1e-12
    assert (tokens + 1) * after >= tokens * now * (1 - 1e-12)


@pytest.mark.parametrize("model", ["Llama3_8B", "Llama3_70B", "Mixtral_8x7B", "Qwen2_5_7B"])
@pytest.mark.parametrize("hardware", ["H100", "H200", "A100", "A100_40GB", "L40S", "T4"])
@pytest.mark.parametrize("precision", ["fp16", "bf16", "fp8"])
def test_engine_equals_the_serving_prefill_pass(model, hardware, precision) -> None:
    """One physics: Engine.solve of a transformer pass and ServingModel's prefill of the same
    batch and prompt (tp 1, weights and KV cache in the compute precision) are the same
    roofline at the same per-kernel efficiencies, to 1e-9, with or without a cited
    hardware- and precision-specific record; and Engine.sweep gives the same row."""
    m, hw = getattr(Models.Language, model), getattr(Hardware.Cloud, hardware)
    if not hw.has(f"compute.{precision}"):
        with pytest.raises(MlsysimError, match=f"no dense {precision} peak"):
            Engine.solve(m, hw, precision=precision)
        return
    for batch, seq in ((1, 1), (1, 512), (8, 128), (32, 2048)):
        p = Engine.solve(m, hw, batch_size=batch, precision=precision, seq_len=seq)
        serving = ServingModel(m, hw, precision=precision)
        t = serving.prefill(seq, batch)
        assert serving.eff is p._terms.efficiencies or serving.eff == p._terms.efficiencies
        for mine, theirs in ((p.si["latency"], t.time), (p.si["latency_compute"], t.compute),
                             (p.si["latency_memory"], t.memory), (p.si["latency_overhead"], t.launch),
                             (p.si["flops"], t.flops), (p.si["bytes_moved"], t.bytes_moved),
                             (p.si["gemm_utilization"], t.gemm_utilization)):
            assert mine == pytest.approx(theirs, rel=1e-9, abs=0.0)
        row = Engine.sweep(m, [hw], batch_sizes=[batch], precisions=[precision], seq_lens=[seq]).rows()[0]
        assert row["latency"] == pytest.approx(p.si["latency"], rel=1e-12)


def test_transformer_passes_use_the_cited_per_kernel_efficiencies() -> None:
    """Where the catalog scopes a GEMM or attention efficiency to an accelerator and precision
    (catalog/assumptions/gemm_efficiency_*, attention_efficiency_*), Engine.solve reads it and
    lists it in the lineage; a CNN (no kernel split) keeps the generic cited figures."""
    h100 = Hardware.Cloud.H100
    p = Engine.solve(Models.Language.Llama3_8B, h100, batch_size=4, seq_len=1024, precision="fp8")
    from mlsysim.solvers.terms import hardware_terms

    k = kernel_efficiencies(hardware_terms(h100, "fp8"))
    assert k.gemm_specific and (p.compute_efficiency, p.attention_efficiency, p.memory_efficiency) == (
        k.gemm, k.attention, k.memory)
    assert "assumptions/gemm_efficiency_h100_fp8_median#quantity" in p.lineage
    assert "assumptions/attention_efficiency_hopper_fp8#quantity" in p.lineage
    # The A100 has no convolution figure of its own (Hopper's is conv_efficiency_hopper_fp16_*).
    cnn = Engine.solve(Models.Vision.ResNet50, Hardware.Cloud.A100, batch_size=8, precision="fp16")
    generic = {e.path for e in cnn.lineage.entries()}
    assert any("prefill_compute_efficiency" in path for path in generic)
    assert not any("gemm_efficiency_" in path for path in generic)
    assert cnn.compute_efficiency == cnn.attention_efficiency


def test_a_cnn_takes_the_convolution_efficiency_cited_for_its_accelerator():
    """ResNet-50's FLOPs on a V100 at fp16 run at the cited cuDNN convolution efficiency
    (conv_efficiency_cudnn_fp16: 27.4% of the FP16 Tensor Core peak, the convolution time
    of a batch-64 ResNet-50 forward pass in PaddlePaddle's float16 benchmark, cuDNN 7.1),
    not at the generic prefill figure; where no convolution figure is cited (the T4) the
    generic one applies, and a caller's efficiency still replaces either."""
    v100 = Engine.solve(model="ResNet50", hardware="V100", batch_size=256, precision="fp16")
    assert v100.compute_efficiency == pytest.approx(0.274)
    assert "assumptions/conv_efficiency_cudnn_fp16#quantity" in v100.lineage
    peak = 125e12
    # The figure holds batch 64's tile and wave losses: at that batch the convolutions take
    # exactly their FLOPs at 27.4% of peak; a larger batch loses less to the tiles.
    at_64 = Engine.solve(model="ResNet50", hardware="V100", batch_size=64, precision="fp16")
    assert at_64.si["latency_compute"] == pytest.approx(64 * 4.09e9 * 2 / (peak * 0.274), rel=1e-3)
    assert v100.si["gemm_utilization"] > at_64.si["gemm_utilization"]
    t4 = Engine.solve(model="ResNet50", hardware="T4", batch_size=256, precision="fp16")
    assert "assumptions/conv_efficiency_cudnn_fp16#quantity" not in t4.lineage
    assert t4.compute_efficiency == pytest.approx(0.76)
    mine = Engine.solve(model="ResNet50", hardware="V100", batch_size=256, precision="fp16", efficiency=0.5)
    assert mine.compute_efficiency == pytest.approx(0.5)


def test_a_cnn_keeps_resident_only_the_activations_alive_at_once() -> None:
    """torchvision ResNet-50 (resnet.py, Bottleneck.forward): at most 2,759,680 activation
    elements per image are referenced at once in inference (the first downsample's batch
    norm), far fewer than the 80,888,808 its operators read and write. A V100 16GB runs
    batch 256 (NVIDIA DeepLearningExamples' ResNet-50 inference table), so it must fit."""
    resnet = Models.Vision.ResNet50
    p = Engine.solve(resnet, Hardware.Cloud.V100, batch_size=256, precision="fp16")
    weights = resnet.parameters.si * 2
    assert p.si["memory_usage"] == pytest.approx(weights + 256 * 2_759_680 * 2)
    assert p.si["bytes_moved"] == pytest.approx(weights + 256 * 80_888_808 * 2, rel=1e-3)
    assert p.si["memory_usage"] < 16e9 and p.feasible


def test_a_sweep_with_host_dispatch_equals_the_solves() -> None:
    """Engine.sweep(host_dispatch=...) gives, row by row, what Engine.solve gives with it."""
    batches = [1, 8, 32, 64, 256]
    table = Engine.sweep("resnet50", ["v100"], batch_sizes=batches, precisions=["fp16"],
                         host_dispatch="host_dispatch_pytorch_eager_cnn")
    for row, batch in zip(table.rows(), batches):
        one = Engine.solve("resnet50", "v100", batch_size=batch, precision="fp16",
                           host_dispatch="host_dispatch_pytorch_eager_cnn")
        assert row["latency"] == pytest.approx(one.si["latency"])
        assert row["latency_host"] == pytest.approx(one.si["latency_host"])
        assert row["bottleneck"] == one.bottleneck
    assert "assumptions/host_dispatch_pytorch_eager_cnn#quantity" in {e.path for e in table.lineage.entries()}


def test_a_host_faster_than_the_device_does_not_make_the_pass_overhead_bound() -> None:
    """Host dispatch sets the bottleneck only when it sets the latency: a host time between
    the larger roof and the device latency (roof + launches) leaves the roof's bottleneck."""
    device = Engine.solve("resnet50", "v100", batch_size=64, precision="fp16")
    roof = max(device.si["latency_compute"], device.si["latency_memory"])
    host_total = (roof + device.si["latency"]) / 2
    per_operator = host_total / model_terms("resnet50").kernels
    with_host = Engine.solve("resnet50", "v100", batch_size=64, precision="fp16", host_dispatch=per_operator)
    assert with_host.si["latency"] == pytest.approx(device.si["latency"])
    assert with_host.bottleneck == device.bottleneck != "Overhead"
    table = Engine.sweep("resnet50", ["v100"], batch_sizes=[64], precisions=["fp16"], host_dispatch=per_operator)
    assert table.columns["bottleneck"][0] == device.bottleneck
