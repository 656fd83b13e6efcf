"""ResNet-50 on the Jetson AGX Orin and Orin NX (MLPerf Inference v3.0, closed, NVIDIA): each row's
published figure pinned against the LoadGen summary it came from, and what the validator does with
a run that used the whole module and one that used only its GPU.

Sources (read at https://github.com/mlcommons/inference_results_v3.0/tree/dad59af09e9e62eceec4bee48794e201d6cf9170):

- closed/NVIDIA/results/Orin_TRT/resnet50/Offline/performance/run_1/mlperf_log_summary.txt:
  "Samples per second: 6438.1"; .../Orin_TRT/resnet50/SingleStream/...: "Mean latency (ns) : 630410".
- closed/NVIDIA/results/Orin_NX_TRT/resnet50/Offline/...: "Samples per second: 2517.99";
  .../Orin_NX_TRT/resnet50/SingleStream/...: "Mean latency (ns) : 1084580".
- closed/NVIDIA/systems/Orin_TRT.json and Orin_NX_TRT.json, hw_notes: "GPU and both DLAs are used
  in resnet50 and Retinanet, in Offline scenario"; closed/NVIDIA/configs/resnet50/Offline/__init__.py,
  classes Orin and Orin_NX: gpu_batch_size = 256, dla_batch_size = 2.
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
    assert config.get("device_part") == (None if metric == "samples_per_s" else "gpu_only")


def test_offline_rows_are_the_module_roofline_at_the_stated_batch(catalog):
    """An Offline row (GPU + both DLAs) is Engine.solve of ResNet-50 on the module's record at
    batch 256 with TensorRT's fusions: the module's whole INT8 peak is what the run had."""
    from mlsysim import Engine
    from mlsysim.evaluate.validation import OK, run_one

    for row_id in ("mlperf30_resnet50_jetson_agx_orin_int8_offline", "mlperf30_resnet50_jetson_orin_nx_int8_offline"):
        rec = catalog.get("measurements", row_id)
        result = run_one(rec, catalog)
        assert result.status == OK, result.reason
        profile = Engine.solve(model=catalog.get("models", "resnet50"),
                               hardware=catalog.get("hardware", rec.ref_id("hardware")), batch_size=256,
                               precision="int8", fusion="tensorrt")
        assert result.predicted == pytest.approx(profile.si["throughput"], rel=1e-12)


def test_a_gpu_only_run_on_a_module_priced_as_a_whole_is_not_expressible(catalog):
    """A SingleStream row ran on the module's GPU alone; the catalog holds only the module's
    GPU + 2 DLA peak, so the validator says so instead of pricing the GPU at the module's peak."""
    from mlsysim.evaluate.validation import NOT_EXPRESSIBLE, run_one

    for row_id in ("mlperf30_resnet50_jetson_agx_orin_int8_singlestream_latency",
                   "mlperf30_resnet50_jetson_orin_nx_int8_singlestream_latency"):
        result = run_one(catalog.get("measurements", row_id), catalog)
        assert result.status == NOT_EXPRESSIBLE and result.predicted is None
        assert "GPU alone" in result.reason and "GPU + 2x DLA" in result.reason, result.reason
