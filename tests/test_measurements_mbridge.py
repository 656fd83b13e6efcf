"""Megatron-Bridge pre-training measurements (catalog/measurements/mbridge2511_*): each row's
published figure and layout pinned against the table it came from.

Source: NVIDIA-NeMo/Megatron-Bridge, docs/performance-summary.md at 00b7660
(https://github.com/NVIDIA-NeMo/Megatron-Bridge/blob/00b7660be0254ac6f95f44164ddd0c3e9cc798ed/docs/performance-summary.md),
section "25.11 NeMo Container", "Pre-Training Performance", tables "System: DGX-H100",
"System: DGX-B200", "System: DGX-GB200" and "System: DGX-GB300". Columns: Model | #-GPUs | Precision | GBS | MBS | Sequence Length | FSDP | TP |
PP | CP | VP | EP | GA | Tokens / sec / GPU | Model TFLOP / sec / GPU. The rows as printed:

- DGX-H100: "| LLAMA3_8B | 8 | FP8-CS | 128 | 1 | 8192 | 1 | 1 | 1 | 1 | n/a | 1 | 16 | 14451 | 744 |",
  "| LLAMA3_70B | 64 | FP8-CS | 128 | 1 | 8192 | 0 | 4 | 8 | 1 | 5 | 1 | 64 | 1602 | 719 |",
  "| LLAMA3.1_405B | 1024 | FP8-CS | 512 | 1 | 8192 | 0 | 8 | 8 | 2 | 8 | 1 | 64 | 292 | 737 |",
  "| Qwen3_30B_a3B | 16 | FP8-CS | 512 | 2 | 4096 | 0 | 1 | 2 | 1 | 24 | 8 | 32 | 5275 | 121 |".
- DGX-B200: "| LLAMA3_8B | 8 | FP8-CS (FP8-MX) | 128 | 2 | 8192 | 0 | 1 | 1 | 1 | n/a | 1 | 8 | 30624 (29521) | ... |",
  "| LLAMA3.1_405B | 128 | FP8-CS (FP8-MX) | 64 | 1 | 8192 | 0 | 4 | 8 | 2 | 8 | 1 | 32 | 661 (624) | ... |",
  "| Qwen3_30B_a3B | 8 | FP8-MX | 512 | 1 | 4096 | 0 | 1 | 1 | 1 | 1 | 8 | 64 | 9299 | 214 |",
  "| Qwen3_235B_a22B | 64 | FP8-MX | 1024 | 1 | 4096 | 0 | 1 | 8 | 1 | 2 | 8 | 128 | 3269 | 484 |".
- DGX-GB200: "| LLAMA3_8B | 8 | FP8-CS (FP8-MX) | 128 | 2 | 8192 | 0 | 1 | 1 | 1 | n/a | 1 | 8 | 31508 (29789) | ... |",
  "| LLAMA3_70B | 64 | FP8-CS | 256 | 2 | 8192 | 1 | 1 | 1 | 1 | 1 | 1 | 2 | 4312 | 1937 |",
  "| LLAMA3.1_405B | 256 | FP8-CS | 1536 | 1 | 8192 | 0 | 4 | 16 | 1 | 4 | 1 | 384 | 813 | 2053 |",
  "| Qwen3_30B_a3B | 8 | FP8-MX | 512 | 4 | 4096 | 0 | 1 | 1 | 1 | 1 | 8 | 16 | 23766 | 547 |".
- DGX-GB300: "| LLAMA3_8B | 8 | FP8-CS (FP8-MX) | 128 | 2 | 8192 | 0 | 1 | 1 | 1 | n/a | 1 | 8 | 37556 (36108) | ... |",
  "| LLAMA3_70B | 64 | FP8-CS | 256 | 2 | 8192 | 1 | 1 | 1 | 1 | 1 | 1 | 2 | 4520 | 2030 |",
  "| LLAMA3.1_405B | 256 | FP8-CS | 1536 | 1 | 8192 | 0 | 2 | 8 | 2 | 4 | 1 | 192 | 999 | 2522 |",
  "| Qwen3_30B_a3B | 8 | FP8-MX | 512 | 4 | 4096 | 0 | 1 | 1 | 1 | 1 | 8 | 16 | 28934 | 666 |".
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCE = "megatron-bridge-performance-summary"

# id: (hardware, GPUs, GBS, MBS, sequence, TP, PP, CP, VP, EP, tokens/s/GPU as printed)
ROWS = {
    "mbridge2511_llama3_8b_dgx_h100_8gpu_fp8": ("h100_sxm", 8, 128, 1, 8192, 1, 1, 1, None, 1, 14451),
    "mbridge2511_llama3_70b_dgx_h100_64gpu_fp8": ("h100_sxm", 64, 128, 1, 8192, 4, 8, 1, 5, 1, 1602),
    "mbridge2511_llama3_1_405b_dgx_h100_1024gpu_fp8": ("h100_sxm", 1024, 512, 1, 8192, 8, 8, 2, 8, 1, 292),
    "mbridge2511_qwen3_30b_a3b_dgx_h100_16gpu_fp8": ("h100_sxm", 16, 512, 2, 4096, 1, 2, 1, 24, 8, 5275),
    "mbridge2511_llama3_8b_dgx_b200_8gpu_fp8": ("b200", 8, 128, 2, 8192, 1, 1, 1, None, 1, 30624),
    "mbridge2511_llama3_1_405b_dgx_b200_128gpu_fp8": ("b200", 128, 64, 1, 8192, 4, 8, 2, 8, 1, 661),
    "mbridge2511_qwen3_30b_a3b_dgx_b200_8gpu_fp8": ("b200", 8, 512, 1, 4096, 1, 1, 1, 1, 8, 9299),
    "mbridge2511_qwen3_235b_a22b_dgx_b200_64gpu_fp8": ("b200", 64, 1024, 1, 4096, 1, 8, 1, 2, 8, 3269),
    "mbridge2511_llama3_8b_gb200_nvl72_8gpu_fp8": ("gb200_nvl72", 8, 128, 2, 8192, 1, 1, 1, None, 1, 31508),
    "mbridge2511_llama3_70b_gb200_nvl72_64gpu_fp8": ("gb200_nvl72", 64, 256, 2, 8192, 1, 1, 1, None, 1, 4312),
    "mbridge2511_llama3_1_405b_gb200_nvl72_256gpu_fp8": ("gb200_nvl72", 256, 1536, 1, 8192, 4, 16, 1, 4, 1, 813),
    "mbridge2511_qwen3_30b_a3b_gb200_nvl72_8gpu_fp8": ("gb200_nvl72", 8, 512, 4, 4096, 1, 1, 1, None, 8, 23766),
    "mbridge2511_llama3_8b_gb300_nvl72_8gpu_fp8": ("gb300_nvl72", 8, 128, 2, 8192, 1, 1, 1, None, 1, 37556),
    "mbridge2511_llama3_70b_gb300_nvl72_64gpu_fp8": ("gb300_nvl72", 64, 256, 2, 8192, 1, 1, 1, None, 1, 4520),
    "mbridge2511_llama3_1_405b_gb300_nvl72_256gpu_fp8": ("gb300_nvl72", 256, 1536, 1, 8192, 2, 8, 2, 4, 1, 999),
    "mbridge2511_qwen3_30b_a3b_gb300_nvl72_8gpu_fp8": ("gb300_nvl72", 8, 512, 4, 4096, 1, 1, 1, None, 8, 28934),
}

# The same page at 17a381f (2026-05-16), section "26.04.01 NeMo Container", table "Model:
# Qwen3_30B_a3B" (columns System | #-GPUs | Precision | GBS | MBS | Sequence Length | FSDP | TP |
# PP | CP | VP | EP | Tokens / sec / GPU | Model TFLOP / sec / GPU), rows as printed:
# "| DGX-GB300 | 8 | MXFP8 | 512 | 8 | 4096 | 0 | 1 | 1 | 1 | n/a | 8 | 31232 | 723 |",
# "| DGX-GB200 | 8 | MXFP8 | 512 | 4 | 4096 | 0 | 1 | 1 | 1 | n/a | 8 | 26112 | 601 |",
# "| DGX-B200 | 8 | MXFP8 | 512 | 4 | 4096 | 0 | 1 | 1 | 1 | n/a | 8 | 27136 | 619 |",
# "| DGX-H100 | 16 | FP8 | 1024 | 1 | 4096 | 0 | 1 | 1 | 1 | n/a | 16 | 8960 | 204 |";
# table "Model: LLAMA3_70B": "| DGX-H100 | 64 | FP8 | 256 | 1 | 8192 | 0 | 4 | 8 | 1 | 5 | n/a | 1664 | 735 |";
# table "Model: LLAMA3.1_405B": "| DGX-GB300 | 256 | FP8 | 1536 | 1 | 8192 | 0 | 4 | 8 | 1 | 4 | n/a | 1024 | 2599 |",
# "| DGX-GB200 | 256 | FP8 | 1536 | 1 | 8192 | 0 | 4 | 16 | 1 | 4 | n/a | 832 | 2065 |",
# "| DGX-H100 | 1024 | FP8 | 1536 | 1 | 8192 | 0 | 8 | 8 | 2 | 8 | n/a | 328 | 827 |";
# table "Model: Qwen3_235B_a22B": "| DGX-GB300 | 256 | MXFP8 | 8192 | 2 | 4096 | 0 | 1 | 4 | 1 | 12 | 32 | 6992 | 1035 |",
# "| DGX-GB200 | 256 | MXFP8 | 8192 | 1 | 4096 | 0 | 1 | 8 | 1 | 3 | 32 | 5696 | 843 |",
# "| DGX-B200 | 256 | MXFP8 | 8192 | 1 | 4096 | 0 | 1 | 8 | 1 | n/a | 8 | 3776 | 560 |",
# "| DGX-H100 | 256 | FP8 | 8192 | 1 | 4096 | 0 | 2 | 8 | 1 | 4 | 32 | 1696 | 252 |";
# table "Model: GPT OSS 120B": "| DGX-GB300 | 64 | BF16 | 1280 | 4 | 4096 | 0 | 1 | 1 | 1 | n/a | 64 | 19328 | 525 |".
SOURCE_2604 = "megatron-bridge-performance-summary-2604-01"
ROWS_2604 = {
    "mbridge260401_qwen3_30b_a3b_gb300_nvl72_8gpu_fp8": ("gb300_nvl72", 8, 512, 8, 4096, 1, 1, 1, None, 8, 31232),
    "mbridge260401_qwen3_30b_a3b_gb200_nvl72_8gpu_fp8": ("gb200_nvl72", 8, 512, 4, 4096, 1, 1, 1, None, 8, 26112),
    "mbridge260401_qwen3_30b_a3b_dgx_b200_8gpu_fp8": ("b200", 8, 512, 4, 4096, 1, 1, 1, None, 8, 27136),
    "mbridge260401_qwen3_30b_a3b_dgx_h100_16gpu_fp8": ("h100_sxm", 16, 1024, 1, 4096, 1, 1, 1, None, 16, 8960),
    "mbridge260401_llama3_70b_dgx_h100_64gpu_fp8": ("h100_sxm", 64, 256, 1, 8192, 4, 8, 1, 5, 1, 1664),
    "mbridge260401_llama3_1_405b_gb300_nvl72_256gpu_fp8": ("gb300_nvl72", 256, 1536, 1, 8192, 4, 8, 1, 4, 1, 1024),
    "mbridge260401_llama3_1_405b_gb200_nvl72_256gpu_fp8": ("gb200_nvl72", 256, 1536, 1, 8192, 4, 16, 1, 4, 1, 832),
    "mbridge260401_llama3_1_405b_dgx_h100_1024gpu_fp8": ("h100_sxm", 1024, 1536, 1, 8192, 8, 8, 2, 8, 1, 328),
    "mbridge260401_qwen3_235b_a22b_gb300_nvl72_256gpu_fp8": ("gb300_nvl72", 256, 8192, 2, 4096, 1, 4, 1, 12, 32, 6992),
    "mbridge260401_qwen3_235b_a22b_gb200_nvl72_256gpu_fp8": ("gb200_nvl72", 256, 8192, 1, 4096, 1, 8, 1, 3, 32, 5696),
    "mbridge260401_qwen3_235b_a22b_dgx_b200_256gpu_fp8": ("b200", 256, 8192, 1, 4096, 1, 8, 1, 1, 8, 3776),
    "mbridge260401_qwen3_235b_a22b_dgx_h100_256gpu_fp8": ("h100_sxm", 256, 8192, 1, 4096, 2, 8, 1, 4, 32, 1696),
    "mbridge260401_gpt_oss_120b_gb300_nvl72_64gpu_bf16": ("gb300_nvl72", 64, 1280, 4, 4096, 1, 1, 1, None, 64, 19328),
}
ROWS.update(ROWS_2604)

# Rows whose recipe keeps some layers' activations in host memory (cpu_offloading_num_layers),
# which no solver models: not expressible.
OFFLOADED = {"mbridge2511_llama3_70b_gb200_nvl72_64gpu_fp8", "mbridge2511_llama3_70b_gb300_nvl72_64gpu_fp8"}


@pytest.fixture(scope="module")
def catalog():
    from mlsysim.catalog import load_catalog

    return load_catalog(REPO / "catalog")


def test_every_megatron_bridge_row_is_pinned_here(catalog):
    """A row added from the table gets its printed figures checked below."""
    on_record = {r.id for r in catalog.records("measurements")
                 if r.claims["measured"]["source"] in (SOURCE, SOURCE_2604)}
    assert on_record == set(ROWS)


@pytest.mark.parametrize("row_id", sorted(ROWS))
def test_published_figure_and_layout(catalog, row_id):
    """The figure is the table's tokens/s/GPU (module docstring), per device, and the layout is
    the table's: GPUs, global batch, micro-batch, sequence length, TP, PP, CP, VP (unset where the
    table prints 1 or n/a without pipelining) and EP, with DP = GPUs / (TP x PP x CP)."""
    hardware, gpus, gbs, mbs, seq, tp, pp, cp, vp, ep, tokens = ROWS[row_id]
    rec = catalog.get("measurements", row_id)
    claim = rec.claims["measured"]
    assert claim["source"] == (SOURCE_2604 if row_id in ROWS_2604 else SOURCE) and claim.get("method") == "measured"
    assert rec.si("measured") == pytest.approx(tokens, rel=1e-12) and f"| {tokens}" in claim["as_stated"]
    assert rec.get("per_device") is True and rec.get("metric") == "tokens_per_s" and rec.get("category") == "training"
    assert (rec.ref_id("hardware"), int(rec.get("devices"))) == (hardware, gpus)
    config = rec.plain_fields["config"]
    layout = config["parallelism"]
    assert (config["batch_size"], config["sequence_length"], layout["microbatch"]) == (gbs, seq, mbs)
    assert (layout["tp"], layout["pp"], layout.get("cp", 1), layout.get("ep", 1)) == (tp, pp, cp, ep)
    assert layout.get("interleave") == (vp if pp > 1 else None)
    assert layout["dp"] * tp * pp * cp == gpus
    assert config["precision"] == ("bf16" if row_id.endswith("_bf16") else "fp8")
    # The table's FSDP 0 is Megatron-Core's distributed optimizer (ZeRO-1), which reduce-scatters
    # the gradients rather than all-reducing them in full (Megatron Core User Guide,
    # "Distributed Optimizer"); FSDP 1 is ZeRO-3, where the field does not apply.
    assert layout.get("full_grad_allreduce") is (False if layout["zero"] == 1 else None)


def test_every_row_reaches_the_distributed_solver(catalog):
    """Each row but those that offload activations is expressible: DistributedModel on its
    cluster and layout gives a rate."""
    from mlsysim.evaluate.validation import NOT_EXPRESSIBLE, OK, run_one

    for row_id in ROWS:
        result = run_one(catalog.get("measurements", row_id), catalog)
        if row_id in OFFLOADED:
            assert result.status == NOT_EXPRESSIBLE and "offloaded to host memory" in result.reason, row_id
        else:
            assert result.status == OK and result.predicted > 0, (row_id, result.reason)
