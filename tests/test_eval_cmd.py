"""`mlsysim eval` through the real entry point: output, JSON, lineage and every exit code."""

from __future__ import annotations

import json

import pytest

from mlsysim.cli.eval_cmd import TARGET_HANDLERS, target_kind


def test_eval_llm_prints_ttft_itl_memory(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100")
    assert r.code == 0, r.err
    assert "Llama3_8B on H100 (fp16; batch 1, prompt 512, output 128)" in r.out
    for row in ("time to first token", "inter-token latency", "largest batch that fits", "memory per GPU", "KV cache"):
        assert row in r.out


def test_eval_json_includes_lineage(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100", "-o", "json", "--batch", "4", "--seq-len", "1024", "--output-tokens", "64")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert (data["batch_size"], data["prompt_tokens"], data["output_tokens"]) == (4, 1024, 64)
    assert data["ttft_s"] > 0 and data["itl_s"] > 0 and data["feasible"] is True
    sources = {e["path"]: e["source_id"] for e in data["lineage"]}
    # fp16 on an H100: the per-kernel efficiencies scoped to Hopper at 16 bits (GEMM: the
    # median of NVIDIA's TensorRT-LLM sweep on the H100; attention: FlashAttention-3's), not the generic 76%.
    assert sources["assumptions/gemm_efficiency_h100_16bit_median#quantity"] == "aiconfigurator-gemm-perf-h100-trtllm-1-3-0rc20"
    assert sources["assumptions/attention_efficiency_hopper_fp16#quantity"] == "arxiv-flashattention3-2407-08608"
    assert "assumptions/prefill_compute_efficiency#quantity" not in sources
    assert "hardware/h100_sxm#memory.bandwidth" in sources


def test_eval_moe_names_the_routed_experts_efficiency(cli) -> None:
    """A mixture of experts on an H100 in FP8 runs its routed experts at the cited
    grouped-GEMM median (28.78%, AIConfigurator's TensorRT-LLM fused-MoE sweep): the summary
    line says so beside the dense GEMM figure and the JSON lineage cites the record; a dense
    model's line does not mention experts."""
    r = cli("eval", "Mixtral_8x7B", "H100", "--precision", "fp8")
    assert r.code == 0, r.err
    assert "(routed experts 29% cited)" in r.out
    data = json.loads(cli("eval", "Mixtral_8x7B", "H100", "--precision", "fp8", "-o", "json").out)
    sources = {e["path"]: e["source_id"] for e in data["lineage"]}
    assert sources["assumptions/expert_gemm_efficiency_h100_fp8_median#quantity"] == "aiconfigurator-moe-perf-h100-trtllm-1-3-0rc20"
    assert "routed experts" not in cli("eval", "Llama3_8B", "H100", "--precision", "fp8").out


def test_eval_prices_the_engines_host_time_per_iteration_and_per_request(cli) -> None:
    """--iteration-overhead and --request-overhead give ServingModel the engine's host time
    between steps, as cited records or typed times: vLLM 0.5's single-step loop, about 4 ms
    per iteration (vllm-project/vllm issue 6854) and 0.08 ms per running request (issue 6801:
    20 ms at batch 200, less the 4 ms). Each decode step of a batch of 64 then takes
    4 + 64 x 0.08 = 9.12 ms longer; the text names the host time; the records are cited."""
    plain = json.loads(cli("eval", "Llama3_8B", "H100", "--batch", "64", "-o", "json").out)
    r = cli("eval", "Llama3_8B", "H100", "--batch", "64", "--iteration-overhead", "serving_iteration_overhead_vllm",
            "--request-overhead", "serving_request_overhead_vllm", "-o", "json")
    assert r.code == 0, r.err
    looped = json.loads(r.out)
    assert looped["itl_s"] - plain["itl_s"] == pytest.approx(4e-3 + 64 * 0.08e-3, rel=1e-9)
    paths = {e["path"] for e in looped["lineage"]}
    assert {"assumptions/serving_iteration_overhead_vllm#quantity", "assumptions/serving_request_overhead_vllm#quantity"} <= paths
    typed = json.loads(cli("eval", "Llama3_8B", "H100", "--batch", "64", "--iteration-overhead", "4 ms",
                           "--request-overhead", "80 us", "-o", "json").out)
    assert typed["itl_s"] == pytest.approx(looped["itl_s"], rel=1e-9)
    text = cli("eval", "Llama3_8B", "H100", "--batch", "64", "--request-overhead", "80 us").out
    assert "engine host time 5.12 ms" in text


@pytest.mark.parametrize("args, message", [
    (("ResNet50", "A100", "--request-overhead", "80 us"), "--request-overhead applies to LLM serving"),
    (("Llama3_8B", "H100", "--iteration-overhead", "4"), "--iteration-overhead: '4' has no unit"),
    (("Llama3_8B", "H100", "--request-overhead", "-1 ms"), "request_overhead"),
])
def test_eval_engine_host_time_errors(cli, args, message) -> None:
    r = cli("eval", *args)
    assert r.code == 1 and message in r.err and "Traceback" not in r.err


def test_eval_explain_lists_cited_values(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100", "--explain")
    assert r.code == 0
    assert "Cited values used" in r.out
    assert "hardware/h100_sxm#compute.fp16 = 989.5 TFLOP/s" in r.out
    assert "(aiconfigurator-gemm-perf-h100-trtllm-1-3-0rc20)" in r.out and "(arxiv-flashattention3-2407-08608)" in r.out


def test_eval_cnn_uses_the_engine(cli) -> None:
    r = cli("eval", "ResNet50", "T4", "--batch", "32", "--precision", "int8")
    assert r.code == 0, r.err
    assert "ResNet50 on T4 (int8, batch 32)" in r.out and "memory-bound" in r.out


def test_eval_host_dispatch_prices_an_eager_host(cli) -> None:
    """--host-dispatch takes a cited assumption (TorchBench's eager-PyTorch ResNet-50 figure,
    76.47 us per operator over 174 operators) or a typed time, and says when it bounds the pass."""
    r = cli("eval", "ResNet50", "V100", "--host-dispatch", "host_dispatch_pytorch_eager_cnn")
    assert r.code == 0, r.err
    assert "overhead-bound" in r.out and "host dispatch 13.31 ms" in r.out
    data = json.loads(cli("eval", "ResNet50", "V100", "--host-dispatch", "50 us", "-o", "json").out)
    assert data["values"]["latency_host"]["value"] == pytest.approx(174 * 50e-6)
    for bad, message in (("50", "no unit"), ("50 kg", "not a time"), ("no_such_record", "no assumptions record")):
        r = cli("eval", "ResNet50", "V100", "--host-dispatch", bad)
        assert r.code == 1 and message in r.err and "Traceback" not in r.err
    r = cli("eval", "Llama3_8B", "H100", "--host-dispatch", "50 us")
    assert r.code == 1 and "iteration_overhead" in r.err


def test_eval_dla_pools_a_jetson_orins_dlas_with_its_gpu_for_a_cnn_only(cli) -> None:
    """--dla adds the Jetson AGX Orin's two DLAs (52.5 dense INT8 TOPS, half of the DLA README's
    "2x DLA sparse INT8 peak performance | 105 TOPs") to its GPU (85.5, half of "GPU sparse INT8
    peak DL performance | 171 TOPs") for a CNN, names the DLA peak in the lineage, and refuses a
    model a DLA cannot run or a module without DLAs, exit 1 with no traceback."""
    gpu = json.loads(cli("eval", "ResNet50", "JetsonAGXOrin", "--precision", "int8", "--batch", "64", "-o", "json").out)
    both = json.loads(cli("eval", "ResNet50", "JetsonAGXOrin", "--precision", "int8", "--batch", "64", "--dla", "-o", "json").out)
    ratio = both["values"]["latency_compute"]["value"] / gpu["values"]["latency_compute"]["value"]
    assert ratio == pytest.approx(85.5 / 138.0, rel=1e-9)
    assert "hardware/jetson_agx_orin_64gb#compute_dla.int8" in {e["path"] for e in both["lineage"]}
    assert "hardware/jetson_agx_orin_64gb#compute_dla.int8" not in {e["path"] for e in gpu["lineage"]}
    assert "GPU + DLAs" in cli("eval", "ResNet50", "JetsonAGXOrin", "--precision", "int8", "--dla").out
    for args, message in ((("Llama3_8B", "JetsonAGXOrin"), "--dla applies to CNNs"),
                          (("BERT_Base", "JetsonAGXOrin"), "run CNN layers"),
                          (("ResNet50", "JetsonOrinNano"), "compute_dla.int8")):
        r = cli("eval", *args, "--precision", "int8", "--dla")
        assert r.code == 1 and message in r.err and "Traceback" not in r.err, r.err


def test_eval_cuda_graph_and_layout(cli) -> None:
    """--cuda-graph charges each kernel the cited time per kernel of a graph replay (1.136 us on
    Hopper, kernel_time_in_cuda_graph_hopper) instead of a 3 us launch, and says so in the header;
    --layout nchw takes the NCHW convolution figure (16.01% of peak on Hopper,
    conv_efficiency_hopper_fp16_nchw). Each refuses what it cannot price, exit 1, no traceback."""
    graphed = json.loads(cli("eval", "ResNet50", "H200", "--batch", "32", "--cuda-graph", "--layout", "nchw", "-o", "json").out)
    assert graphed["cuda_graph"] is True and graphed["layout"] == "nchw"
    kernels = graphed["values"]["latency_overhead"]["value"] / 1.136e-6
    assert kernels == pytest.approx(174)
    paths = {e["path"] for e in graphed["lineage"]}
    assert {"assumptions/kernel_time_in_cuda_graph_hopper#quantity", "assumptions/conv_efficiency_hopper_fp16_nchw#quantity"} <= paths
    text = cli("eval", "ResNet50", "H200", "--cuda-graph", "--layout", "channels_last").out
    assert "channels-last, replayed as a CUDA graph" in text
    # In a graph the fixed part is the gaps between kernels (174 x 1.136 us), not launches; a
    # transformer's also holds its small operators' fixed run times (tests/test_operator_lines.py).
    assert "+ kernel gaps in the graph 197.7 µs)" in text
    llama = cli("eval", "Llama3_8B", "H200", "-p", "bf16", "--cuda-graph").out
    assert "replayed as a CUDA graph" in llama and "each step includes kernel gaps and small operators in the graph" in llama
    served = json.loads(cli("eval", "Llama3_8B", "H200", "-p", "bf16", "--cuda-graph", "-o", "json").out)
    assert served["cuda_graph"] is True
    steady = json.loads(cli("eval", "Llama3_8B", "H200", "-p", "bf16", "--concurrent", "8", "-o", "json").out)
    assert steady["cuda_graph"] is False
    assert "kernel gaps in a CUDA graph" in cli("eval", "Llama3_8B", "A100", "--cuda-graph").out
    for args, message in ((("ResNet50", "A100", "--layout", "nchw"), "no convolution efficiency in nchw layout"),
                          (("ResNet50", "H200", "--layout", "nhwc"), "not one of channels_last, nchw"),
                          (("Llama3_8B", "H200", "--layout", "nchw"), "--layout applies to a CNN")):
        r = cli("eval", *args)
        assert r.code == 1 and message in r.err and "Traceback" not in r.err, r.err


def test_eval_tensor_parallel_on_a_node(cli) -> None:
    r = cli("eval", "Llama3_70B", "DGX_H100", "--tp", "4", "-o", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["tensor_parallel"] == 4 and data["prefill"]["communication_s"] > 0
    assert any(e["path"] == "nodes/dgx_h100#intra_node_bandwidth" for e in data["lineage"])


def test_exit_1_unknown_model_suggests_names(cli) -> None:
    r = cli("eval", "lama3_8b", "H100")
    assert r.code == 1
    assert "no models record named 'lama3_8b'; closest: Llama3_8B" in r.err
    assert "Traceback" not in r.err


def test_exit_1_unknown_hardware_suggests_names(cli) -> None:
    r = cli("eval", "Llama3_8B", "H10")
    assert r.code == 1
    assert "no hardware record named 'H10'; closest:" in r.err


def test_exit_1_missing_hardware(cli) -> None:
    r = cli("eval", "Llama3_8B")
    assert r.code == 1
    assert "give the hardware, e.g. `mlsysim eval Llama3_8B H100`" in r.err


def test_exit_1_precision_not_in_catalog(cli) -> None:
    r = cli("eval", "ResNet50", "JetsonOrinNX", "--precision", "fp16")
    assert r.code == 1
    assert "JetsonOrinNX has no dense fp16 peak" in r.err


def test_exit_1_option_that_does_not_apply(cli) -> None:
    r = cli("eval", "ResNet50", "T4", "--precision", "int8", "--tp", "2")
    assert r.code == 1
    assert "--tp applies to transformer serving; ResNet50 is a cnn model" in r.err


def test_exit_2_does_not_fit_says_by_how_much(cli) -> None:
    r = cli("eval", "Llama3_70B", "H100")
    assert r.code == 2
    # 85.52 GB: the 81559 MiB nvidia-smi reports for an H100 80GB HBM3 (NVIDIA MIG User Guide r580)
    assert "Llama3_70B does not fit on H100: needs 141.3 GB per GPU, has 85.52 GB usable (55.8 GB short)" in r.err
    assert "--weight-precision" in r.err
    assert "more devices (--tp N with a node that holds H100: DGX_H100, GrandTeton_H100, HGX_H100_EPYC, Kempner_H100_4GPU, ND96isr_H100_v5)" in r.err
    assert r.out == ""  # what does not fit and by how much, never a latency for a run that cannot happen


def test_exit_2_hint_names_a_node_of_the_same_accelerator(cli) -> None:
    """The hint names nodes built from this accelerator, never another GPU's node."""
    a100 = cli("eval", "Llama3_70B", "A100")
    assert a100.code == 2 and "(--tp N with a node that holds A100: DGX_A100, JeanZay_A100_80GB_OPA, MosaicML_A100_80GB_RoCE)" in a100.err
    assert "40GB" not in a100.err  # the A100 40GB's node holds another accelerator
    mi300x = cli("eval", "Llama3_1_405B", "MI300X")
    assert mi300x.code == 2
    assert "(--tp N with a node that holds MI300X: Server_8x_MI300X)" in mi300x.err
    assert "DGX" not in mi300x.err


def test_tp_without_an_interconnect_names_a_node_or_says_there_is_none(cli) -> None:
    r = cli("eval", "Llama3_8B", "L4", "--tp", "2")
    assert r.code == 1
    assert ("L4 has no interconnect.bandwidth in the catalog; tensor parallelism needs it (pass a node record instead: "
            "--tp N needs a node, and no node in the catalog holds L4; add one under catalog/systems/nodes/)") in r.err


def test_breakdown_shows_the_cited_fixed_overheads(cli) -> None:
    """Kernel launches (and, with TP, the all-reduce and its fixed latency) are shown next to
    compute and memory, and --explain lists the assumptions they come from."""
    r = cli("eval", "Llama3_8B", "H100", "--explain")
    assert r.code == 0, r.err
    assert "; + kernel launches 1.161 ms)" in r.out  # 387 kernels x 3 us
    assert "each step includes kernel launches 1.161 ms)" in r.out
    assert "assumptions/kernel_launch_overhead#quantity = 3 microsecond" in r.out
    tp = cli("eval", "Llama3_70B", "DGX_H100", "--tp", "4", "--explain")
    assert tp.code == 0, tp.err
    assert "kernel launches 2.889 ms, all-reduce" in tp.out and "of it fixed latency" in tp.out
    assert "assumptions/nccl_allreduce_base_latency#quantity = 6.6 microsecond" in tp.out
    cnn = cli("eval", "MobileNetV2", "T4", "--precision", "int8")
    assert "kernel launches" not in cnn.out  # no operator graph, no launch count
    resnet = cli("eval", "ResNet50", "T4", "--precision", "int8")
    assert "kernel launches 522 µs" in resnet.out  # 174 operators x 3 us
    llm = cli("eval", "Llama3_8B", "H100", "-o", "json")
    assert json.loads(llm.out)["prefill"]["kernel_launch_s"] == pytest.approx(387 * 3e-6)


TINY_DEVICE = """\
id: fx_tiny
name: Fixture tiny accelerator
aliases: [FXTiny]
tier: edge
vendor: Fixture Corp
release_year: 2024
compute:
  int8: {value: 4, unit: TOPS, source: fixture-datasheet, qualifiers: {sparsity: dense}}
memory:
  capacity: {value: 8, unit: MB, source: fixture-datasheet}
  bandwidth: {value: 10, unit: GB/s, source: fixture-datasheet}
"""


def _efficiency(name: str, percent: float) -> str:
    return (f"id: {name}\nname: {name}\ndimension: dimensionless\n"
            f"quantity: {{value: {percent}, unit: percent, source: fixture-model-card}}\n")


def test_exit_2_for_a_cnn_that_does_not_fit_in_another_catalog(cli, catalog_copy) -> None:
    root = catalog_copy({
        "hardware/edge/fx_tiny.yaml": TINY_DEVICE,
        "assumptions/prefill_compute_efficiency.yaml": _efficiency("prefill_compute_efficiency", 50),
        "assumptions/decode_memory_bandwidth_efficiency.yaml": _efficiency("decode_memory_bandwidth_efficiency", 80),
    })
    r = cli("eval", "FixtureCNN", "FXTiny", "--precision", "int8", "--catalog", str(root))
    assert r.code == 2, r.err
    assert "FixtureCNN does not fit in FXTiny's memory: needs 25 MB, has 8 MB (17 MB short)" in r.err
    assert r.out == ""  # no latency for a run that cannot happen


def test_exit_1_catalog_without_the_efficiency_assumptions(cli, fixture_catalog) -> None:
    r = cli("eval", "FixtureCNN", "FX100", "--catalog", str(fixture_catalog))
    assert r.code == 1
    assert "has no assumption 'prefill_compute_efficiency'; the roofline needs this cited constant" in r.err


def test_exit_1_model_without_architecture_or_flops(cli) -> None:
    r = cli("eval", "GPT4", "H100")
    assert r.code == 1
    assert "GPT4 has neither a transformer or ssm architecture block nor a cited flops_per_inference" in r.err


def test_lower_weight_precision_makes_it_fit(cli) -> None:
    r = cli("eval", "Llama3_70B", "H100", "--weight-precision", "int4", "--kv-precision", "fp8")
    assert r.code == 0, r.err
    assert "compute fp16, weights int4, KV fp8" in r.out


def test_exit_3_sla_missed(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100", "--max-ttft-ms", "1")
    assert r.code == 3
    assert "time to first token" in r.err and "exceeds the target of 1 ms" in r.err
    r = cli("eval", "Llama3_8B", "H100", "--max-latency-ms", "10")
    assert r.code == 3
    assert "request latency" in r.err


def test_sla_met_exits_0(cli) -> None:
    assert cli("eval", "Llama3_8B", "H100", "--max-ttft-ms", "1000", "--max-latency-ms", "100000").code == 0


def test_continuous_batching(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100", "--concurrent", "64", "-o", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["concurrent_requests"] == 64 and data["tokens_per_second"] > 0


def test_targets_dispatch_for_later_commands(cli) -> None:
    assert target_kind("scenario") == "scenario"
    assert target_kind("plan.YAML") == "plan" and target_kind("x.yml") == "plan"
    assert target_kind("Llama3_8B") == "model"
    assert TARGET_HANDLERS["model"] == "mlsysim.cli.eval_cmd:eval_model"
    if "scenario" not in TARGET_HANDLERS:
        r = cli("eval", "scenario", "chatbot")
        assert r.code == 1 and "`mlsysim eval scenario` targets are not available" in r.err


@pytest.mark.parametrize("args", [("--batch", "0"), ("-o", "xml")])
def test_bad_option_values_exit_1(cli, args) -> None:
    assert cli("eval", "Llama3_8B", "H100", *args).code == 1


def test_exit_1_batch_with_concurrent(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100", "--batch", "4", "--concurrent", "8")
    assert r.code == 1 and "--batch and --concurrent do not combine" in r.err


def test_help_lists_the_options(cli) -> None:
    r = cli("eval", "--help")
    assert r.code == 0
    for option in ("--batch", "--precision", "--seq-len", "--output-tokens", "--efficiency", "--explain", "--max-ttft-ms"):
        assert option in r.out


def test_breakdown_shows_how_full_the_gemm_waves_are(cli) -> None:
    """A 128-token prompt on an A100 leaves most SMs idle in its GEMMs (tile/wave quantization,
    NVIDIA's matmul guide); the line says so and --explain lists the SM count and the tile."""
    r = cli("eval", "llama2_7b", "A100", "--seq-len", "128", "--explain")
    assert r.code == 0, r.err
    assert "compute-bound prefill: compute 12.63 ms with GEMM tile waves 54% full, memory 7.689 ms" in r.out
    assert "hardware/a100_sxm_80gb#compute_units = 108" in r.out
    assert "assumptions/gemm_tile_rows#quantity = 256" in r.out
    engine = cli("eval", "MobileNetV2", "T4", "--precision", "int8")
    assert "GEMM tile waves" not in engine.out  # no GEMM shapes
    data = json.loads(cli("eval", "llama2_7b", "A100", "--seq-len", "128", "-o", "json").out)
    assert data["prefill"]["gemm_utilization"] == pytest.approx(0.538, abs=0.001)


def test_eval_prefix_cache_and_chunked_prefill(cli) -> None:
    """--cached-tokens and --chunk-tokens reach ServingModel.prefill: the header says so and
    the JSON's TTFT is that of the chunked pass over the uncached tokens."""
    from mlsysim import Hardware, Models, ServingModel

    r = cli("eval", "Llama3_8B", "H100", "-s", "4096", "--cached-tokens", "3584", "--chunk-tokens", "256", "-o", "json")
    assert r.code == 0, r.err
    expected = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100).prefill(4096, 1, 3584, 256).time
    assert json.loads(r.out)["ttft_s"] == pytest.approx(expected, rel=1e-12)
    text = cli("eval", "Llama3_8B", "H100", "-s", "4096", "--cached-tokens", "3584", "--chunk-tokens", "256")
    assert "prompt 4096 (3584 cached) in chunks of 256, output 128" in text.out


def test_eval_speculative_decoding_row_and_json(cli) -> None:
    r = cli("eval", "Llama3_70B", "H200", "-p", "fp8", "--draft", "Llama3_8B", "--draft-tokens", "4",
            "--acceptance-rate", "0.8")
    assert r.code == 0, r.err
    assert "speculative decoding" in r.out and "Llama3_8B drafts 4 tokens" in r.out
    data = json.loads(cli("eval", "Llama3_70B", "H200", "-p", "fp8", "--draft", "Llama3_8B", "--draft-tokens", "4",
                          "--acceptance-rate", "0.8", "-o", "json").out)
    spec = data["speculative"]
    assert spec["tokens_per_iteration"] == pytest.approx(3.3616) and spec["speedup"] > 1


@pytest.mark.parametrize("args, message", [
    (("--draft", "Llama3_8B"), "--draft needs --draft-tokens"),
    (("--draft-tokens", "4"), "name the draft model with --draft"),
    (("--concurrent", "8", "--cached-tokens", "64"), "apply to a static batch"),
    (("-s", "512", "--cached-tokens", "512"), "must be below prompt_tokens"),
    (("--draft", "Llama3_8B", "--draft-tokens", "4", "--acceptance-rate", "1.5"), "acceptance_rate must be in (0, 1]"),
])
def test_eval_serving_options_exit_1_with_the_reason(cli, args, message) -> None:
    r = cli("eval", "Llama3_8B", "H100", *args)
    assert r.code == 1 and message in r.err and "Traceback" not in r.err


def test_eval_concurrent_with_chunked_prefill(cli) -> None:
    """--chunk-tokens under --concurrent: each iteration carries the decodes and, when a
    prompt is being prefilled, a chunk of that many tokens (token budget = requests + chunk)."""
    from mlsysim import Models, ServingModel, Systems

    r = cli("eval", "Llama3_70B", "DGX_H100", "--tp", "2", "-p", "fp8", "--concurrent", "32", "-s", "2048",
            "--output-tokens", "256", "--chunk-tokens", "512", "-o", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    expected = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, precision="fp8", tp=2) \
        .continuous_batching(32, 2048, 256, token_budget=32 + 512)
    assert data["token_budget"] == 544 and data["iteration_s"] == pytest.approx(expected.iteration, rel=1e-12)
    text = cli("eval", "Llama3_70B", "DGX_H100", "--tp", "2", "-p", "fp8", "--concurrent", "32", "-s", "2048",
               "--output-tokens", "256", "--chunk-tokens", "512")
    assert "4 iterations carrying its 512-token chunks" in text.out


def test_eval_says_which_fixed_costs_it_leaves_unpriced(cli) -> None:
    """The generic kernel-launch time is NVIDIA's null-kernel figure (qualifier vendor NVIDIA),
    and only the MI300X has a per-kernel time of its own; NCCL's latency model is NVIDIA's and
    RCCL's all-reduce time is cited for 8 MI300X only. So on an MI325X the result says that
    launches are not priced, and on an MI300X at TP 2 that the all-reduces' fixed latency is
    not, in text and JSON; on an H100 nothing is left out."""
    r = cli("eval", "Llama3_8B", "MI325X")
    assert r.code == 0, r.err
    assert ("Not priced: kernel launches: the cited per-kernel launch time (kernel_launch_overhead) is for NVIDIA "
            "GPUs, and no per-kernel time is cited for MI325X") in r.out
    data = json.loads(cli("eval", "Llama3_8B", "Server_8x_MI300X", "--tp", "2", "-o", "json").out)
    assert len(data["unpriced"]) == 1 and data["unpriced"][0].startswith("all-reduce latency:")
    assert "MI300X at 2 ranks" in data["unpriced"][0]
    cnn = json.loads(cli("eval", "ResNet50", "MI325X", "-o", "json").out)
    assert cnn["unpriced"] and cnn["unpriced"][0].startswith("kernel launches:")
    h100 = cli("eval", "Llama3_8B", "H100")
    assert "Not priced" not in h100.out
    assert json.loads(cli("eval", "Llama3_8B", "H100", "-o", "json").out)["unpriced"] == []
