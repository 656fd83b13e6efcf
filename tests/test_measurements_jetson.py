"""ResNet-50 on the Jetson AGX Orin and Orin NX (MLPerf Inference v3.0, closed, NVIDIA): each row's
published figure pinned against the LoadGen summary it came from, and how the validator prices a
run spread over the module's GPU and DLAs (Offline) and one on the GPU alone (SingleStream).

Sources (read at https://github.com/mlcommons/inference_results_v3.0/tree/dad59af09e9e62eceec4bee48794e201d6cf9170):

- closed/NVIDIA/results/Orin_TRT/resnet50/Offline/performance/run_1/mlperf_log_summary.txt:
  "Samples per second: 6438.1"; .../Orin_TRT/resnet50/SingleStream/...: "Mean latency (ns) : 630410".
- closed/NVIDIA/results/Orin_NX_TRT/resnet50/Offline/...: "Samples per second: 2517.99";
  .../Orin_NX_TRT/resnet50/SingleStream/...: "Mean latency (ns) : 1084580".
- closed/NVIDIA/systems/Orin_TRT.json and Orin_NX_TRT.json, hw_notes: "GPU and both DLAs are used
  in resnet50 and Retinanet, in Offline scenario"; closed/NVIDIA/configs/resnet50/Offline/__init__.py,
  classes Orin and Orin_NX: gpu_batch_size = 256, dla_batch_size = 2.
- NVIDIA/Deep-Learning-Accelerator-SW README.md at 1da860c, table under "Why is DLA essential on
  Orin?" (Jetson AGX Orin 64GB, MAXN): "GPU sparse INT8 peak DL performance | 171 TOPs", "2x DLA
  sparse INT8 peak performance | 105 TOPs"; the DLA is "designed to do full hardware acceleration of
  convolutional neural networks".
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# id: (source, hardware, batch, metric, published figure in SI units, the figure as printed)
ROWS = {
    "mlperf30_resnet50_jetson_agx_orin_int8_offline": (
        "mlcommons-inference-v30-nvidia-orin-trt-resnet50-offline", "jetson_agx_orin_64gb", 256,
        "samples_per_s", 6438.1, "6438.1"),
    "mlperf30_resnet50_jetson_orin_nx_int8_offline": (
        "mlcommons-inference-v30-nvidia-orin-nx-trt-resnet50-offline", "jetson_orin_nx", 256,
        "samples_per_s", 2517.99, "2517.99"),
    "mlperf30_resnet50_jetson_agx_orin_int8_singlestream_latency": (
        "mlcommons-inference-v30-nvidia-orin-trt-resnet50-singlestream", "jetson_agx_orin_64gb", 1,
        "latency", 630410e-9, "630410"),
    "mlperf30_resnet50_jetson_orin_nx_int8_singlestream_latency": (
        "mlcommons-inference-v30-nvidia-orin-nx-trt-resnet50-singlestream", "jetson_orin_nx", 1,
        "latency", 1084580e-9, "1084580"),
}


@pytest.fixture(scope="module")
def catalog():
    from mlsysim.catalog import load_catalog

    return load_catalog(REPO / "catalog")


@pytest.mark.parametrize("row_id", sorted(ROWS))
def test_published_figure_and_configuration(catalog, row_id):
    """Each row holds the figure its LoadGen summary prints (module docstring), int8 at the
    stated batch, in the edge category, cited with the figure inside its verbatim `as_stated`."""
    source, hardware, batch, metric, value, printed = ROWS[row_id]
    rec = catalog.get("measurements", row_id)
    claim = rec.claims["measured"]
    assert rec.si("measured") == pytest.approx(value, rel=1e-9)
    assert claim["source"] == source and printed in claim["as_stated"]
    assert claim.get("method") == "measured" and claim.get("locator")
    assert (rec.ref_id("hardware"), rec.ref_id("model"), rec.get("metric")) == (hardware, "resnet50", metric)
    assert rec.get("category") == "edge"
    config = rec.plain_fields["config"]
    assert (config["precision"], config["batch_size"], config["operator_fusion"]) == ("int8", batch, "tensorrt")
    # The DLAs take part in the Offline scenario only (the systems' hw_notes).
    assert config.get("device_part") == ("gpu_and_dla" if metric == "samples_per_s" else None)


def test_offline_rows_pool_the_gpu_and_the_dlas_and_singlestream_rows_use_the_gpu(catalog):
    """An Offline row (GPU + both DLAs) is Engine.solve of ResNet-50 at batch 256 with TensorRT's
    fusions and dla=True; a SingleStream row (the GPU alone) the same at batch 1 without it,
    replayed as a CUDA graph (NVIDIA's v3.0 SingleStream configuration sets use_graphs)."""
    from mlsysim import Engine
    from mlsysim.evaluate.validation import OK, run_one

    for row_id, (_, hardware, batch, metric, _, _) in ROWS.items():
        result = run_one(catalog.get("measurements", row_id), catalog)
        assert result.status == OK, result.reason
        offline = metric == "samples_per_s"
        profile = Engine.solve(model=catalog.get("models", "resnet50"), hardware=catalog.get("hardware", hardware),
                               batch_size=batch, precision="int8", fusion="tensorrt", dla=offline,
                               cuda_graph=not offline)
        expected = profile.si["throughput"] if offline else profile.si["latency"]
        assert result.predicted == pytest.approx(expected, rel=1e-12)
        assert any("DLAs' peaks pooled" in a for a in result.assumed) is offline


def test_the_agx_orin_gpu_and_dla_peaks_are_nvidia_s_split_of_the_headline(catalog):
    """Jetson AGX Orin 64GB at MAXN (DLA README): GPU 171 sparse INT8 TOPS (85.5 dense), two DLAs
    105 sparse (52.5 dense); a transformer is priced at the GPU's peak alone."""
    from mlsysim import Engine

    orin = catalog.get("hardware", "jetson_agx_orin_64gb")
    assert orin.si("compute.int8") == pytest.approx(85.5e12) and orin.si("compute_sparse.int8") == pytest.approx(171e12)
    assert orin.si("compute_dla.int8") == pytest.approx(52.5e12) and orin.si("compute_dla_sparse.int8") == pytest.approx(105e12)
    llm = Engine.solve(model=catalog.get("models", "llama3_8b"), hardware=orin, precision="int8", batch_size=1, seq_len=2048)
    paths = {e.to_dict()["path"] for e in llm.lineage.entries()}
    assert "hardware/jetson_agx_orin_64gb#compute.int8" in paths
    assert not any("compute_dla" in p for p in paths)


def test_pooling_adds_the_dla_peak_and_refuses_what_the_dla_cannot_run(catalog):
    """dla=True adds `compute_dla` to the GPU's peak for a CNN; a transformer, or a module with
    no DLA peak on record, is refused with the reason and the fix."""
    from mlsysim import Engine
    from mlsysim.errors import MlsysimError

    resnet, orin = catalog.get("models", "resnet50"), catalog.get("hardware", "jetson_agx_orin_64gb")
    gpu = Engine.solve(model=resnet, hardware=orin, batch_size=256, precision="int8")
    both = Engine.solve(model=resnet, hardware=orin, batch_size=256, precision="int8", dla=True)
    # Compute-bound at batch 256: the pooled peak (85.5 + 52.5 TOPS) shortens the compute term by 85.5 / 138.
    assert both.si["latency_compute"] == pytest.approx(gpu.si["latency_compute"] * 85.5 / 138.0, rel=1e-9)
    with pytest.raises(MlsysimError, match="run CNN layers"):
        Engine.solve(model=catalog.get("models", "llama3_8b"), hardware=orin, precision="int8", dla=True)
    with pytest.raises(MlsysimError, match=r"JetsonOrinNano has no int8 peak of deep-learning accelerators.*compute_dla"):
        Engine.solve(model=resnet, hardware=catalog.get("hardware", "jetson_orin_nano_8gb"), precision="int8", dla=True)
