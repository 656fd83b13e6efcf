"""llm-foundry MPT pre-training measurements (catalog/measurements/llmfoundry_*): each row's
published figure and layout pinned against the table it came from, and the MPT model records'
parameter counts against the same tables.

Source: mosaicml/llm-foundry, scripts/train/benchmarking/README.md at b2a43a1
(https://github.com/mosaicml/llm-foundry/blob/b2a43a1477a45f40f4086a1c72f851b0ab42d0ac/scripts/train/benchmarking/README.md),
tables "H100 80GB BF16", "A100 80GB with 1600 Gbps node-node interconnect (RoCE)" and "A100 40GB
with 1600 Gbps node-node interconnect (RoCE)". Columns: Model | SeqLen (T) | # GPUs | GPU | MFU |
HFU | Model TFLOP | MicroBatchSize | GradAccum | GlobalBatchSize | Throughput (S/s) | Throughput
(T/s) | Throughput (T/s/GPU) | GlobalBatchSize (T) | Precision | MP Mode | Sharding Strategy |
Activation Checkpointing | Activation CPUOffload | NumParams (the A100 40GB header omits Model
TFLOP; its rows carry the cell). The rows kept, by rules fixed before any prediction was seen: every
8-GPU row of the H100 and A100 80GB tables at sequence length 2048 or 8192, the A100 80GB table's
multi-node rows (70b on 32 and 64 GPUs), and every A100 40GB row at sequence length 2048 of the
models of 7B and more. As printed:

  "|  125m | 2048 | 8 | a100_80gb | 44.79 | 44.79 | 139 | 40 | 2 | 640 | 557 | 1142641 | 142830 | 1310720 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 125311488 |"
  "|  125m | 2048 | 8 | a100_80gb | 44.45 | 44.45 | 138 | 32 | 2 | 512 | 553 | 1133901 | 141737 | 1048576 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 125311488 |"
  "|  125m | 8192 | 8 | a100_80gb | 48.85 | 48.85 | 152 | 8 | 2 | 128 | 88 | 723142 | 90392 | 1048576 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 130030080 |"
  "|  13b | 2048 | 128 | a100_40gb | 51.93 | 69.24 | 162 | 16 | 1 | 2048 | 123 | 252444 | 1972 | 4194304 | bf16 | PURE | FULL_SHARD | True | False | 12853954560 |"
  "|  13b | 2048 | 16 | a100_40gb | 52.5 | 70.0 | 163 | 10 | 1 | 160 | 15 | 31900 | 1993 | 327680 | bf16 | PURE | FULL_SHARD | True | False | 12853954560 |"
  "|  13b | 2048 | 32 | a100_40gb | 52.62 | 70.16 | 164 | 14 | 1 | 448 | 31 | 63946 | 1998 | 917504 | bf16 | PURE | FULL_SHARD | True | False | 12853954560 |"
  "|  13b | 2048 | 64 | a100_40gb | 52.04 | 69.39 | 162 | 16 | 1 | 1024 | 61 | 126479 | 1976 | 2097152 | bf16 | PURE | FULL_SHARD | True | False | 12853954560 |"
  "|  13b | 2048 | 8 | a100_40gb | 43.94 | 58.58 | 137 | 4 | 16 | 512 | 6 | 13347 | 1668 | 1048576 | bf16 | PURE | FULL_SHARD | True | False | 12853954560 |"
  "|  13b | 2048 | 8 | a100_80gb | 59.57 | 59.57 | 185 | 2 | 3 | 48 | 8 | 18097 | 2262 | 98304 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 12853954560 |"
  "|  13b | 8192 | 8 | a100_80gb | 56.07 | 74.76 | 174 | 5 | 3 | 120 | 1 | 14362 | 1795 | 983040 | amp_bf16 | DEFAULT | FULL_SHARD | True | False | 12885411840 |"
  "|  13b | 2048 | 8 | h100_80gb | 39.79 | 39.79 | 393 | 2 | 1 | 16 | 18 | 38336 | 4792 | 32768 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 12853954560 |"
  "|  1b | 2048 | 8 | a100_80gb | 59.86 | 59.86 | 186 | 14 | 4 | 448 | 80 | 164109 | 20513 | 917504 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 1315950592 |"
  "|  1b | 8192 | 8 | a100_80gb | 56.69 | 56.69 | 176 | 3 | 4 | 96 | 13 | 110516 | 13814 | 786432 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 1328533504 |"
  "|  1b | 2048 | 8 | h100_80gb | 41.82 | 41.82 | 413 | 14 | 1 | 112 | 177 | 363645 | 45455 | 229376 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 1315950592 |"
  "|  1b | 8192 | 8 | h100_80gb | 37.73 | 37.73 | 373 | 3 | 4 | 96 | 28 | 233256 | 29157 | 786432 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 1328533504 |"
  "|  30b | 2048 | 128 | a100_40gb | 52.25 | 69.66 | 163 | 6 | 1 | 768 | 54 | 110803 | 865 | 1572864 | bf16 | PURE | FULL_SHARD | True | False | 29975214080 |"
  "|  30b | 2048 | 32 | a100_40gb | 51.74 | 68.98 | 161 | 4 | 1 | 128 | 13 | 27431 | 857 | 262144 | bf16 | PURE | FULL_SHARD | True | False | 29975214080 |"
  "|  30b | 2048 | 8 | a100_80gb | 55.3 | 73.74 | 172 | 3 | 21 | 504 | 3 | 7330 | 916 | 1032192 | amp_bf16 | DEFAULT | FULL_SHARD | True | False | 29975214080 |"
  "|  30b | 8192 | 8 | a100_80gb | 39.38 | 52.5 | 122 | 1 | 21 | 168 | 0 | 4594 | 574 | 1376256 | amp_bf16 | DEFAULT | FULL_SHARD | True | False | 30019254272 |"
  "|  30b | 2048 | 8 | h100_80gb | 38.11 | 50.82 | 377 | 3 | 21 | 504 | 7 | 16022 | 2002 | 1032192 | amp_bf16 | DEFAULT | FULL_SHARD | True | False | 29975214080 |"
  "|  30b | 8192 | 8 | h100_80gb | 29.92 | 39.9 | 296 | 1 | 21 | 168 | 1 | 11072 | 1384 | 1376256 | amp_bf16 | DEFAULT | FULL_SHARD | True | False | 30019254272 |"
  "|  350m | 2048 | 8 | a100_80gb | 51.62 | 51.62 | 161 | 32 | 2 | 512 | 229 | 470263 | 58782 | 1048576 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 355985408 |"
  "|  350m | 8192 | 8 | a100_80gb | 53.8 | 53.8 | 167 | 8 | 2 | 128 | 35 | 292559 | 36569 | 1048576 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 362276864 |"
  "|  3b | 2048 | 8 | a100_80gb | 62.11 | 62.11 | 193 | 10 | 2 | 160 | 42 | 86491 | 10811 | 327680 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 2651837440 |"
  "|  3b | 8192 | 8 | a100_80gb | 59.34 | 59.34 | 185 | 3 | 6 | 144 | 7 | 61567 | 7695 | 1179648 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 2667566080 |"
  "|  3b | 8192 | 8 | h100_80gb | 40.31 | 40.31 | 398 | 3 | 6 | 144 | 16 | 132626 | 16578 | 1179648 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 2667566080 |"
  "|  70b | 2048 | 128 | a100_40gb | 48.91 | 65.21 | 152 | 4 | 1 | 512 | 23 | 48194 | 376 | 1048576 | bf16 | PURE | FULL_SHARD | True | False | 64862437376 |"
  "|  70b | 2048 | 64 | a100_40gb | 35.87 | 47.82 | 111 | 2 | 1 | 128 | 8 | 17672 | 276 | 262144 | bf16 | PURE | FULL_SHARD | True | False | 64862437376 |"
  "|  70b | 2048 | 32 | a100_80gb | 48.56 | 64.75 | 151 | 2 | 16 | 1024 | 5 | 11962 | 373 | 2097152 | bf16 | PURE | FULL_SHARD | True | False | 64862437376 |"
  "|  70b | 2048 | 64 | a100_80gb | 53.33 | 71.1 | 166 | 8 | 4 | 2048 | 12 | 26274 | 410 | 4194304 | bf16 | PURE | FULL_SHARD | True | False | 64862437376 |"
  "|  760m | 2048 | 8 | a100_80gb | 56.85 | 56.85 | 177 | 24 | 2 | 384 | 126 | 259472 | 32434 | 786432 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 760470528 |"
  "|  760m | 8192 | 8 | a100_80gb | 55.31 | 55.31 | 172 | 6 | 2 | 96 | 20 | 167471 | 20933 | 786432 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 769907712 |"
  "|  760m | 2048 | 8 | h100_80gb | 34.9 | 34.9 | 345 | 24 | 2 | 384 | 246 | 505177 | 63147 | 786432 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 760470528 |"
  "|  760m | 8192 | 8 | h100_80gb | 34.84 | 34.84 | 344 | 6 | 2 | 96 | 40 | 334602 | 41825 | 786432 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 769907712 |"
  "|  7b | 2048 | 128 | a100_40gb | 50.14 | 66.85 | 156 | 18 | 1 | 2304 | 226 | 463749 | 3623 | 4718592 | bf16 | PURE | FULL_SHARD | True | False | 6658859008 |"
  "|  7b | 2048 | 16 | a100_40gb | 50.44 | 67.26 | 157 | 16 | 1 | 256 | 28 | 58322 | 3645 | 524288 | bf16 | PURE | FULL_SHARD | True | False | 6658859008 |"
  "|  7b | 2048 | 32 | a100_40gb | 51.55 | 68.73 | 160 | 18 | 1 | 576 | 58 | 119202 | 3725 | 1179648 | bf16 | PURE | FULL_SHARD | True | False | 6658859008 |"
  "|  7b | 2048 | 64 | a100_40gb | 50.73 | 67.64 | 158 | 18 | 1 | 1152 | 114 | 234614 | 3665 | 2359296 | bf16 | PURE | FULL_SHARD | True | False | 6658859008 |"
  "|  7b | 2048 | 8 | a100_40gb | 50.92 | 67.89 | 158 | 12 | 4 | 384 | 14 | 29436 | 3679 | 786432 | bf16 | PURE | FULL_SHARD | True | False | 6658859008 |"
  "|  7b | 2048 | 8 | a100_80gb | 64.23 | 64.23 | 200 | 6 | 2 | 96 | 18 | 37130 | 4641 | 196608 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 6658859008 |"
  "|  7b | 8192 | 8 | a100_80gb | 54.47 | 72.62 | 169 | 8 | 2 | 128 | 3 | 25655 | 3206 | 1048576 | amp_bf16 | DEFAULT | FULL_SHARD | True | False | 6684024832 |"
  "|  7b | 2048 | 8 | h100_80gb | 46.44 | 46.44 | 459 | 6 | 1 | 48 | 41 | 85144 | 10643 | 98304 | amp_bf16 | DEFAULT | FULL_SHARD | False | False | 6658859008 |"
  "|  7b | 8192 | 8 | h100_80gb | 37.14 | 49.52 | 367 | 8 | 2 | 128 | 6 | 55481 | 6935 | 1048576 | amp_bf16 | DEFAULT | FULL_SHARD | True | False | 6684024832 |"
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCE = "llm-foundry-mpt-training-benchmarks"
VOCAB = 50368  # vocab_size of every mpt-*.yaml at b2a43a1

# id: (hardware, GPUs, cluster, global batch, micro-batch, sequence, activation checkpointing,
#      tokens/s/GPU as printed)
ROWS = {
    "llmfoundry_mpt_125m_a100_80gb_8gpu_seq2048": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 640, 40, 2048, False, 142830),
    "llmfoundry_mpt_125m_a100_80gb_8gpu_seq2048_gbs512": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 512, 32, 2048, False, 141737),
    "llmfoundry_mpt_125m_a100_80gb_8gpu_seq8192": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 128, 8, 8192, False, 90392),
    "llmfoundry_mpt_13b_a100_40gb_128gpu_seq2048": ("a100_sxm_40gb", 128, "mosaicml_a100_40gb_roce", 2048, 16, 2048, True, 1972),
    "llmfoundry_mpt_13b_a100_40gb_16gpu_seq2048": ("a100_sxm_40gb", 16, "mosaicml_a100_40gb_roce", 160, 10, 2048, True, 1993),
    "llmfoundry_mpt_13b_a100_40gb_32gpu_seq2048": ("a100_sxm_40gb", 32, "mosaicml_a100_40gb_roce", 448, 14, 2048, True, 1998),
    "llmfoundry_mpt_13b_a100_40gb_64gpu_seq2048": ("a100_sxm_40gb", 64, "mosaicml_a100_40gb_roce", 1024, 16, 2048, True, 1976),
    "llmfoundry_mpt_13b_a100_40gb_8gpu_seq2048": ("a100_sxm_40gb", 8, "mosaicml_a100_40gb_roce", 512, 4, 2048, True, 1668),
    "llmfoundry_mpt_13b_a100_80gb_8gpu_seq2048": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 48, 2, 2048, False, 2262),
    "llmfoundry_mpt_13b_a100_80gb_8gpu_seq8192": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 120, 5, 8192, True, 1795),
    "llmfoundry_mpt_13b_h100_8gpu_seq2048": ("h100_sxm", 8, "lab_64_h100", 16, 2, 2048, False, 4792),
    "llmfoundry_mpt_1b_a100_80gb_8gpu_seq2048": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 448, 14, 2048, False, 20513),
    "llmfoundry_mpt_1b_a100_80gb_8gpu_seq8192": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 96, 3, 8192, False, 13814),
    "llmfoundry_mpt_1b_h100_8gpu_seq2048": ("h100_sxm", 8, "lab_64_h100", 112, 14, 2048, False, 45455),
    "llmfoundry_mpt_1b_h100_8gpu_seq8192": ("h100_sxm", 8, "lab_64_h100", 96, 3, 8192, False, 29157),
    "llmfoundry_mpt_30b_a100_40gb_128gpu_seq2048": ("a100_sxm_40gb", 128, "mosaicml_a100_40gb_roce", 768, 6, 2048, True, 865),
    "llmfoundry_mpt_30b_a100_40gb_32gpu_seq2048": ("a100_sxm_40gb", 32, "mosaicml_a100_40gb_roce", 128, 4, 2048, True, 857),
    "llmfoundry_mpt_30b_a100_80gb_8gpu_seq2048": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 504, 3, 2048, True, 916),
    "llmfoundry_mpt_30b_a100_80gb_8gpu_seq8192": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 168, 1, 8192, True, 574),
    "llmfoundry_mpt_30b_h100_8gpu_seq2048": ("h100_sxm", 8, "lab_64_h100", 504, 3, 2048, True, 2002),
    "llmfoundry_mpt_30b_h100_8gpu_seq8192": ("h100_sxm", 8, "lab_64_h100", 168, 1, 8192, True, 1384),
    "llmfoundry_mpt_350m_a100_80gb_8gpu_seq2048": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 512, 32, 2048, False, 58782),
    "llmfoundry_mpt_350m_a100_80gb_8gpu_seq8192": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 128, 8, 8192, False, 36569),
    "llmfoundry_mpt_3b_a100_80gb_8gpu_seq2048": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 160, 10, 2048, False, 10811),
    "llmfoundry_mpt_3b_a100_80gb_8gpu_seq8192": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 144, 3, 8192, False, 7695),
    "llmfoundry_mpt_3b_h100_8gpu_seq8192": ("h100_sxm", 8, "lab_64_h100", 144, 3, 8192, False, 16578),
    "llmfoundry_mpt_70b_a100_40gb_128gpu_seq2048": ("a100_sxm_40gb", 128, "mosaicml_a100_40gb_roce", 512, 4, 2048, True, 376),
    "llmfoundry_mpt_70b_a100_40gb_64gpu_seq2048": ("a100_sxm_40gb", 64, "mosaicml_a100_40gb_roce", 128, 2, 2048, True, 276),
    "llmfoundry_mpt_70b_a100_80gb_32gpu_seq2048": ("a100_sxm_80gb", 32, "mosaicml_a100_80gb_roce", 1024, 2, 2048, True, 373),
    "llmfoundry_mpt_70b_a100_80gb_64gpu_seq2048": ("a100_sxm_80gb", 64, "mosaicml_a100_80gb_roce", 2048, 8, 2048, True, 410),
    "llmfoundry_mpt_760m_a100_80gb_8gpu_seq2048": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 384, 24, 2048, False, 32434),
    "llmfoundry_mpt_760m_a100_80gb_8gpu_seq8192": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 96, 6, 8192, False, 20933),
    "llmfoundry_mpt_760m_h100_8gpu_seq2048": ("h100_sxm", 8, "lab_64_h100", 384, 24, 2048, False, 63147),
    "llmfoundry_mpt_760m_h100_8gpu_seq8192": ("h100_sxm", 8, "lab_64_h100", 96, 6, 8192, False, 41825),
    "llmfoundry_mpt_7b_a100_40gb_128gpu_seq2048": ("a100_sxm_40gb", 128, "mosaicml_a100_40gb_roce", 2304, 18, 2048, True, 3623),
    "llmfoundry_mpt_7b_a100_40gb_16gpu_seq2048": ("a100_sxm_40gb", 16, "mosaicml_a100_40gb_roce", 256, 16, 2048, True, 3645),
    "llmfoundry_mpt_7b_a100_40gb_32gpu_seq2048": ("a100_sxm_40gb", 32, "mosaicml_a100_40gb_roce", 576, 18, 2048, True, 3725),
    "llmfoundry_mpt_7b_a100_40gb_64gpu_seq2048": ("a100_sxm_40gb", 64, "mosaicml_a100_40gb_roce", 1152, 18, 2048, True, 3665),
    "llmfoundry_mpt_7b_a100_40gb_8gpu_seq2048": ("a100_sxm_40gb", 8, "mosaicml_a100_40gb_roce", 384, 12, 2048, True, 3679),
    "llmfoundry_mpt_7b_a100_80gb_8gpu_seq2048": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 96, 6, 2048, False, 4641),
    "llmfoundry_mpt_7b_a100_80gb_8gpu_seq8192": ("a100_sxm_80gb", 8, "mosaicml_a100_80gb_roce", 128, 8, 8192, True, 3206),
    "llmfoundry_mpt_7b_h100_8gpu_seq2048": ("h100_sxm", 8, "lab_64_h100", 48, 6, 2048, False, 10643),
    "llmfoundry_mpt_7b_h100_8gpu_seq8192": ("h100_sxm", 8, "lab_64_h100", 128, 8, 8192, True, 6935),
}

# size: (d_model, n_layers, NumParams printed at sequence length 2048 in the A100 80GB table)
MODELS = {
    "125m": (768, 12, 125311488),
    "350m": (1024, 24, 355985408),
    "760m": (1536, 24, 760470528),
    "1b": (2048, 24, 1315950592),
    "3b": (2560, 32, 2651837440),
    "7b": (4096, 32, 6658859008),
    "13b": (5120, 40, 12853954560),
    "30b": (7168, 48, 29975214080),
    "70b": (8192, 80, 64862437376),
}


@pytest.fixture(scope="module")
def catalog():
    from mlsysim.catalog import load_catalog

    return load_catalog(REPO / "catalog")


def test_every_llm_foundry_row_is_pinned_here(catalog):
    """A row added from the tables gets its printed figures checked below."""
    on_record = {r.id for r in catalog.records("measurements") if r.claims["measured"]["source"] == SOURCE}
    assert on_record == set(ROWS)


@pytest.mark.parametrize("row_id", sorted(ROWS))
def test_published_figure_and_layout(catalog, row_id):
    """The figure is the table's Throughput (T/s/GPU) (module docstring), per device, and the layout
    is the table's: GPUs, FULL_SHARD (ZeRO-3) over all of them, global batch, micro-batch,
    sequence length and activation checkpointing (recompute full); the H100 rows run on one
    HGX H100 node, the A100 rows on the cluster of the table's 1600 Gbit/s RoCE system."""
    hardware, gpus, cluster, gbs, mbs, seq, checkpointed, tokens = ROWS[row_id]
    rec = catalog.get("measurements", row_id)
    claim = rec.claims["measured"]
    assert claim["source"] == SOURCE and claim.get("method") == "measured"
    assert rec.si("measured") == pytest.approx(tokens, rel=1e-12) and f"| {tokens} |" in claim["as_stated"]
    assert f"| {seq} | {gpus} |" in claim["as_stated"] and f"| {mbs} |" in claim["as_stated"]
    assert f"| {checkpointed} | False |" in claim["as_stated"] and "| FULL_SHARD |" in claim["as_stated"]
    assert rec.get("per_device") is True and rec.get("metric") == "tokens_per_s" and rec.get("category") == "training"
    assert (rec.ref_id("hardware"), int(rec.get("devices")), rec.ref_id("cluster")) == (hardware, gpus, cluster)
    config = rec.plain_fields["config"]
    layout = config["parallelism"]
    assert (config["batch_size"], config["sequence_length"], layout["microbatch"]) == (gbs, seq, mbs)
    assert (layout["tp"], layout["pp"], layout["dp"], layout["zero"]) == (1, 1, gpus, 3)
    assert layout["recompute"] == ("full" if checkpointed else "none")
    assert config["precision"] == "bf16"
    # Composer 0.16.4's get_mixed_precision: DEFAULT reduces gradients in fp32, PURE in bf16
    assert layout["grad_reduce_fp32"] is ("| DEFAULT |" in claim["as_stated"])
    # attn_impl triton: the yaml's, and submit_benchmarks.py's --attn_impl default at b2a43a1
    assert config["attention_kernel"] == "flashattention_triton"


@pytest.mark.parametrize("size", sorted(MODELS))
def test_model_records_count_the_printed_parameters(catalog, size):
    """MPTConfig's defaults at b2a43a1 (biases, LayerNorm weight and bias, learned position
    embeddings, tied output layer) give 12 L d^2 + 13 L d + 2 d + (V + 2048) d parameters, the
    NumParams the A100 80GB table prints for the 2048-token row of each size."""
    d, layers, printed = MODELS[size]
    model = catalog.get("models", f"llmfoundry_mpt_{size}")
    assert 12 * layers * d * d + 13 * layers * d + 2 * d + (VOCAB + 2048) * d == printed
    assert model.si("parameters") == pytest.approx(printed, rel=1e-12)
    assert (model.si("transformer.hidden_size"), model.si("transformer.layers")) == (d, layers)
    assert model.si("transformer.vocab_size") == VOCAB and model.si("transformer.ffn_size") == 4 * d


def test_every_a100_row_reaches_the_distributed_solver_and_no_h100_row_does(catalog):
    """An A100 row is expressible: DistributedModel on its cluster and layout, attention at the
    Triton kernel's A100 figures, gives a rate. The catalog cites no figure of that kernel on
    Hopper, so an H100 row is not expressible, and says why."""
    from mlsysim.evaluate.validation import NOT_EXPRESSIBLE, OK, run_one

    for row_id, (hardware, *_) in ROWS.items():
        result = run_one(catalog.get("measurements", row_id), catalog)
        if hardware == "h100_sxm":
            assert result.status == NOT_EXPRESSIBLE, row_id
            assert "no efficiency of flashattention_triton attention is cited for H100" in result.reason
        else:
            assert result.status == OK and result.predicted > 0, (row_id, result.reason)
