"""ResNet-50 inference measurements on the A100 and H100 (catalog/measurements/, the cnnval rows):
each row's published figure, configuration and citation pinned against the document it came from.

Sources (all read in a stored copy at the commit in the URL):

- NVIDIA DeepLearningExamples, PaddlePaddle/Classification/RN50v1.5/README.md, section "Paddle-TRT
  performance: NVIDIA DGX A100 (1x A100 80GB)", tables "TF32/FP16/INT8 Inference Latency"
  (https://github.com/NVIDIA/DeepLearningExamples/blob/729963dd47e7c8bd462ad10bfac7a7b0b604e6dd/PaddlePaddle/Classification/RN50v1.5/README.md).
- Same repository, MxNet/Classification/RN50v1.5/README.md, "Inference performance: NVIDIA DGX A100
  (1x A100 80GB)"; TensorFlow/Classification/ConvNets/resnet50v1.5/README.md, "Inference performance:
  NVIDIA DGX A100 (1x A100 40GB)"; PyTorch/Classification/ConvNets/triton/resnet50/README.md,
  "Offline: NVIDIA DGX A100 (1x A100 80GB), ONNX Runtime TensorRT with FP16".
- MLPerf Inference v3.0 results, closed/NVIDIA/results/{DGX-A100_A100-SXM-80GBx1_TRT,
  DGX-A100_A100-SXM-80GBx1_TRT_Triton, DGX-H100_H100-SXM-80GBx1_TRT}/resnet50/{SingleStream,Offline}/
  performance/run_1/mlperf_log_summary.txt
  (https://github.com/mlcommons/inference_results_v3.0/tree/1948f9b5b93c5b4dcafe15de0faa08cdf1439fca/closed/NVIDIA/results).

Predictions are not pinned here (they move with the solvers; `mlsysim validate` reports them), only
that every row reaches a solver or says what it cannot price.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PADDLE = "nvidia-dle-resnet50-paddle-readme"
MXNET = "nvidia-dle-resnet50-mxnet-readme"
TF = "nvidia-dle-resnet50-tensorflow-readme"
TRITON = "nvidia-dle-resnet50-triton-pytorch-readme"
MLPERF_SS = "mlcommons-inference-v30-nvidia-a100-sxm-80gbx1-trt-resnet50-singlestream"
MLPERF_SS_TRITON = "mlcommons-inference-v30-nvidia-a100-sxm-80gbx1-triton-resnet50-singlestream"
MLPERF_A100_OFF = "mlcommons-inference-v30-nvidia-a100-sxm-80gbx1-trt-resnet50-offline"
MLPERF_H100_OFF = "mlcommons-inference-v30-nvidia-h100-sxm-80gbx1-trt-resnet50-offline"

# id: (source, hardware, precision, batch, metric, published figure in SI units, the figure as printed)
ROWS = {
    # Paddle-TRT, DGX A100 (1x A100 80GB): "| 1 | 1306.28 img/s | 0.76 ms | ..." (FP16), ...
    "dle_paddle_trt_resnet50_a100_fp16_b1_latency": (PADDLE, "a100_sxm_80gb", "fp16", 1, "latency", 0.76e-3, "0.76 ms"),
    "dle_paddle_trt_resnet50_a100_fp16_b8_samples_per_s": (PADDLE, "a100_sxm_80gb", "fp16", 8, "samples_per_s", 7036.09, "7036.09 img/s"),
    "dle_paddle_trt_resnet50_a100_fp16_b64_samples_per_s": (PADDLE, "a100_sxm_80gb", "fp16", 64, "samples_per_s", 14992.88, "14992.88 img/s"),
    "dle_paddle_trt_resnet50_a100_fp16_b256_samples_per_s": (PADDLE, "a100_sxm_80gb", "fp16", 256, "samples_per_s", 17363.79, "17363.79 img/s"),
    "dle_paddle_trt_resnet50_a100_int8_b1_latency": (PADDLE, "a100_sxm_80gb", "int8", 1, "latency", 0.70e-3, "0.70 ms"),
    "dle_paddle_trt_resnet50_a100_int8_b256_samples_per_s": (PADDLE, "a100_sxm_80gb", "int8", 256, "samples_per_s", 27935.10, "27935.10 img/s"),
    "dle_paddle_trt_resnet50_a100_tf32_b1_latency": (PADDLE, "a100_sxm_80gb", "tf32", 1, "latency", 1.03e-3, "1.03 ms"),
    "dle_paddle_trt_resnet50_a100_tf32_b256_samples_per_s": (PADDLE, "a100_sxm_80gb", "tf32", 256, "samples_per_s", 8623.08, "8623.08 img/s"),
    # MXNet 22.10, DGX A100 (1x A100 80GB), mixed precision: batch 1 avg latency 0.7 ms; batch 256 7909.62 img/s
    "dle_mxnet_resnet50_a100_fp16_b1_latency": (MXNET, "a100_sxm_80gb", "fp16", 1, "latency", 0.7e-3, "| 0.7 |"),
    "dle_mxnet_resnet50_a100_fp16_b256_samples_per_s": (MXNET, "a100_sxm_80gb", "fp16", 256, "samples_per_s", 7909.62, "| 7909.62 |"),
    # TensorFlow 20.06-tf1, DGX A100 (1x A100 40GB), mixed precision, batch 1: "| 1 | 223.35 img/s | 4.51 ms | ..."
    "dle_tf_resnet50_a100_40gb_fp16_b1_latency": (TF, "a100_sxm_40gb", "fp16", 1, "latency", 4.51e-3, "4.51 ms"),
    # Triton (ONNX Runtime + TensorRT, FP16), DGX A100 (1x A100 80GB), client batch 1, 'Avg Latency' 2.128 (ms)
    "dle_triton_resnet50_a100_fp16_b1_latency": (TRITON, "a100_sxm_80gb", "fp16", 1, "latency", 2.128e-3, "2.128"),
    # MLPerf v3.0: "Mean latency (ns) : 454689" / "511169"; "Samples per second: 42379.3" / "91825.7"
    "mlperf30_resnet50_a100_sxm_80gb_int8_singlestream_latency": (MLPERF_SS, "a100_sxm_80gb", "int8", 1, "latency", 454689e-9, "454689"),
    "mlperf30_resnet50_a100_sxm_80gb_int8_triton_singlestream_latency": (MLPERF_SS_TRITON, "a100_sxm_80gb", "int8", 1, "latency", 511169e-9, "511169"),
    "mlperf30_resnet50_a100_sxm_80gb_int8_offline": (MLPERF_A100_OFF, "a100_sxm_80gb", "int8", 2048, "samples_per_s", 42379.3, "42379.3"),
    "mlperf30_resnet50_h100_sxm_int8_offline": (MLPERF_H100_OFF, "h100_sxm", "int8", 2048, "samples_per_s", 91825.7, "91825.7"),
}


@pytest.fixture(scope="module")
def catalog():
    from mlsysim.catalog import load_catalog

    return load_catalog(REPO / "catalog")


@pytest.mark.parametrize("row_id", sorted(ROWS))
def test_published_figure_and_configuration(catalog, row_id):
    """Each row holds the figure its source prints (see the module docstring for the documents and
    the comment on each ROWS entry for the printed figure), on the hardware, precision and batch the
    source states, cited to that source with the figure inside its verbatim `as_stated`."""
    source, hardware, precision, batch, metric, value, printed = ROWS[row_id]
    rec = catalog.get("measurements", row_id)
    claim = rec.claims["measured"]
    assert rec.si("measured") == pytest.approx(value, rel=1e-9)
    assert claim["source"] == source
    assert printed in claim["as_stated"]
    assert claim.get("method") == "measured" and claim.get("locator")
    assert rec.ref_id("hardware") == hardware and rec.ref_id("model") == "resnet50"
    assert int(rec.get("devices")) == 1
    assert rec.get("metric") == metric
    assert rec.get("category") == ("latency" if metric == "latency" else "throughput")
    config = rec.plain_fields["config"]
    assert (config["precision"], config["batch_size"]) == (precision, batch)
    assert config.get("engine")
    if metric == "latency":
        assert config.get("statistic") == "mean"


def test_a100_batch_one_latency_is_published_by_several_engines(catalog):
    """The A100 batch-1 ResNet-50 latencies on record span TensorRT-class engines (MLPerf v3.0
    SingleStream mean 0.455 ms int8; Paddle-TRT 0.70 ms int8, 0.76 ms fp16; MXNet 0.7 ms fp16) and
    framework or client-side timings (Triton client 2.128 ms, TensorFlow 1 4.51 ms): the engine is
    what separates them, and each row says which."""
    b1 = {r.id: r for r in catalog.records("measurements")
          if r.ref_id("model") == "resnet50" and r.ref_id("hardware").startswith("a100")
          and r.get("metric") == "latency" and r.plain_fields["config"].get("batch_size") == 1}
    assert set(ROWS) & set(b1) == {i for i, row in ROWS.items() if row[4] == "latency"}
    engines = {b1[i].plain_fields["config"]["engine"] for i in b1 if i in ROWS}
    assert len(engines) == 6
    fastest = min(b1[i].si("measured") for i in ROWS if i in b1)
    assert fastest == pytest.approx(454689e-9, rel=1e-9)


# Rows whose measured time, per their source, holds work no solver prices: MXNet's README
# reports "total images per second, data plus compute time", the Triton README's latency
# is the client's (serialisation, network, server queue and compute), and the TensorFlow 1
# row ran without XLA with its "framework overheads" included (the graph executor's host
# time per operator, for which no figure is cited).
UNPRICED = {"dle_mxnet_resnet50_a100_fp16_b1_latency": "data loading",
            "dle_mxnet_resnet50_a100_fp16_b256_samples_per_s": "data loading",
            "dle_triton_resnet50_a100_fp16_b1_latency": "network round trip",
            "dle_tf_resnet50_a100_40gb_fp16_b1_latency": "TensorFlow 1's host time to dispatch each operator"}


def test_every_row_reaches_a_solver_or_says_what_it_cannot_price(catalog):
    """`mlsysim validate` expresses each row (Engine.solve at the stated batch and precision),
    except those whose timing holds work no solver models, which it calls 'not expressible'
    and says why, rather than comparing a GPU roofline with a host or client figure."""
    from mlsysim.evaluate.validation import NOT_EXPRESSIBLE, OK, run_one

    for row_id in ROWS:
        result = run_one(catalog.get("measurements", row_id), catalog)
        if row_id in UNPRICED:
            assert result.status == NOT_EXPRESSIBLE and UNPRICED[row_id] in result.reason, (row_id, result.reason)
            continue
        assert result.status == OK, (row_id, result.reason)
        assert result.predicted is not None and result.predicted > 0


def test_mlperf_rows_replay_cuda_graphs_where_nvidia_s_configuration_sets_use_graphs(catalog):
    """NVIDIA's v3.0 ResNet-50 harness configurations (inference_results_v3.0 at dad59af,
    closed/NVIDIA/configs/resnet50/SingleStream/__init__.py: SingleStreamGPUBaseConfig sets
    'use_graphs = True'; Offline/__init__.py: the base sets 'use_graphs = False', L4x1 overrides it
    with 'use_graphs = True') replay the TensorRT engine as a CUDA graph in every SingleStream run
    and in the L4's Offline run. Those rows say so (`execution: cuda_graph`), are priced with no
    host launch per kernel, and, where no time per kernel of a graph replay is cited for the GPU,
    say that the gaps between kernels are not priced."""
    from mlsysim.evaluate.validation import OK, run_one

    mlperf = [r for r in catalog.records("measurements") if r.id.startswith("mlperf30_resnet50_")]
    graphs = {r.id for r in mlperf if r.plain_fields["config"].get("execution") == "cuda_graph"}
    assert graphs == {r.id for r in mlperf if "singlestream" in r.id} | {"mlperf30_resnet50_l4_int8_offline"}
    for row_id in sorted(graphs):
        result = run_one(catalog.get("measurements", row_id), catalog)
        assert result.status == OK, (row_id, result.reason)
        assert any("replayed as a CUDA graph" in a for a in result.assumed)
        if result.hardware not in ("h200", "h100_sxm", "gh200"):
            assert any("kernel gaps in a CUDA graph" in r for r in result.remarks), (row_id, result.remarks)
