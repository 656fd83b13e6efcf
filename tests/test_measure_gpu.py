"""scripts/measure_gpu.py: its CPU-runnable bookkeeping (arguments, plan, report shape) and,
where torch is installed, a tiny CPU smoke run of every section."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import load_script



@pytest.fixture(scope="module")
def mg():
    return load_script("measure_gpu")


def test_arguments(mg) -> None:
    a = mg.parse_args([])
    assert a.device == "cuda" and not a.quick and a.only == list(mg.SECTIONS) and a.iters == 20 and a.commit == ""
    b = mg.parse_args(["--device", "cpu", "--quick", "--only", "gemm", "launch", "--iters", "3", "--out", "x.json"])
    assert (b.device, b.quick, b.only, b.iters, b.out) == ("cpu", True, ["gemm", "launch"], 3, "x.json")
    with pytest.raises(SystemExit):
        mg.parse_args(["--only", "nothing"])
    with pytest.raises(SystemExit):
        mg.parse_args(["--iters", "0"])


def test_plan_uses_the_llama3_8b_shape(mg) -> None:
    """Llama-3-8B: 32 layers, hidden 4096, 32 heads, 8 KV heads, FFN 14336, vocabulary 128256
    (Meta's sku_list model_args, the catalog's llama3_8b record)."""
    full, quick = mg.plan(False), mg.plan(True)
    assert full["llama"] == {"layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8, "ffn": 14336, "vocab": 128256}
    assert full["resnet_batches"][0] == 1 and full["resnet_batches"][-1] == 256
    assert quick["llama"]["layers"] < full["llama"]["layers"]
    from mlsysim import Models

    t = Models.Language.Llama3_8B.transformer
    assert (t.layers.si, t.hidden_size.si, t.kv_heads.si, t.ffn_size.si) == (32, 4096, 8, 14336)


def test_summary_and_report_shape(mg) -> None:
    assert mg.summary([3.0, 1.0, 2.0]) == {"median_s": 2.0, "min_s": 1.0, "mean_s": 2.0, "iters": 3}
    assert mg.summary([1.0, 3.0])["median_s"] == 2.0
    report = mg.new_report({"type": "cpu"}, True)
    assert mg.check_report(report) == []
    report["gemm"].append({"precision": "bf16", "median_s": 0.0})
    assert any("non-positive" in p for p in mg.check_report(report))
    report["gemm"][0] = {"precision": "fp8", "error": "no fp8 on this GPU"}
    assert mg.check_report(report) == []
    assert mg.check_report({"schema": "other"})[0].startswith("schema is")
    # A section added after the first reports were written is checked only where present.
    older = mg.new_report({"type": "cpu"}, True)
    del older["conv"]
    assert mg.check_report(older) == []
    older["conv"] = {}
    assert mg.check_report(older) == ["conv must be a list"]
    del older["conv"], older["dispatch"], older["elementwise"]
    assert mg.check_report(older) == []


def test_cpu_smoke_run(mg, tmp_path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "gpu.json"
    assert mg.main(["--device", "cpu", "--quick", "--iters", "2", "--out", str(out), "--commit", "0123abc", "--only",
                    "gemm", "bandwidth", "attention", "launch", "llama"]) == 0
    data = json.loads(out.read_text())
    assert data["schema"] == mg.SCHEMA and mg.check_report(data) == [] and data["commit"] == "0123abc"
    assert data["llama"]["decode_graph"] == []  # CUDA graphs only on a GPU
    assert data["gemm"][0]["tflops"] > 0 and data["bandwidth"]["bytes_per_s"] > 0
    assert data["gemm"][0]["graph"] is None and data["attention"][0]["graph"] is None
    assert data["llama"]["decode_per_token_s"] > 0 and data["launch"]["per_launch_s"] > 0


def test_decode_kernels_cover_a_decode_layers_small_operators(mg, tmp_path) -> None:
    """Every non-GEMM operator of the Llama-shaped layer's decode step, at each decode batch,
    with the bytes it must move: the KV read grows with the batch, the rest with it too."""
    pytest.importorskip("torch")
    out = tmp_path / "gpu.json"
    assert mg.main(["--device", "cpu", "--quick", "--iters", "2", "--out", str(out), "--only", "decode_kernels"]) == 0
    data = json.loads(out.read_text())
    assert mg.check_report(data) == [] and data["skipped"] == {}
    rows = data["decode_kernels"]
    names = ["rms_norm", "kv_cache_write", "attention", "residual_add", "silu_mul"]
    assert [(r["batch"], r["operator"]) for r in rows] == [(b, n) for b in (1, 2) for n in names]
    tiny = mg.LLAMA_TINY
    by = {(r["batch"], r["operator"]): r for r in rows}
    # CPU: FP32, 4 B per element; the prompt is 16 tokens, so the step attends to 17.
    assert by[(2, "attention")]["context_tokens"] == 17
    kv = 2 * 2 * tiny["kv_heads"] * 17 * (tiny["hidden"] // tiny["heads"]) * 4
    assert by[(2, "attention")]["bytes"] == kv + 2 * 2 * tiny["hidden"] * 4
    assert by[(1, "residual_add")]["bytes"] == 3 * tiny["hidden"] * 4
    assert all(r["graph"] is None and r["median_s"] > 0 for r in rows)  # CUDA graphs only on a GPU


def test_kernel_counts_run_last_and_only_on_a_gpu(mg, tmp_path) -> None:
    """The profiler may leave hooks that slow later launches, so it runs after every timed section."""
    pytest.importorskip("torch")
    assert mg.SECTIONS[-1] == "kernel_counts"
    out = tmp_path / "gpu.json"
    assert mg.main(["--device", "cpu", "--quick", "--iters", "1", "--out", str(out), "--only", "kernel_counts"]) == 0
    data = json.loads(out.read_text())
    assert data["kernel_counts"] == {} and data["skipped"] == {}
    import torch

    assert mg._gpu_kernel_names(torch, torch.device("cpu"), lambda: None) is None
    assert mg._gpu_kernels(torch, torch.device("cpu"), lambda: None) is None


def test_gemm_kernel_names_are_keyed_by_precision_and_shape(mg) -> None:
    """Each shape's GEMM runs once under the tracer and its kernels are kept by shape; FP8 only
    on a GPU; off a GPU the tracer has nothing to say (None)."""
    torch = pytest.importorskip("torch")
    cpu = torch.device("cpu")
    traced = []

    def names(_torch, _device, fn):
        out = fn()
        traced.append(tuple(out.shape))
        return {"fake_gemm_tilesize64x128": 1}

    got = mg.gemm_kernel_names(torch, cpu, [(16, 32, 8), (4, 8, 16)], names=names)
    assert got == {"bf16 16x32x8": {"fake_gemm_tilesize64x128": 1}, "bf16 4x8x16": {"fake_gemm_tilesize64x128": 1}}
    assert traced == [(16, 32), (4, 8)]
    assert mg.gemm_kernel_names(torch, cpu, [(16, 16, 16)]) == {"bf16 16x16x16": None}


def test_cpu_smoke_run_of_the_torchvision_sections(mg, tmp_path) -> None:
    """ResNet-50's distinct convolutions in both layouts, and the batch sweep (CPU: NCHW only)."""
    pytest.importorskip("torchvision")
    out = tmp_path / "gpu.json"
    assert mg.main(["--device", "cpu", "--quick", "--iters", "2", "--out", str(out), "--only", "dispatch", "conv",
                    "elementwise", "resnet"]) == 0
    data = json.loads(out.read_text())
    assert mg.check_report(data) == [] and data["skipped"] == {}
    convs = data["conv"]
    assert {r["layout"] for r in convs} == {"nchw", "channels_last"}
    # torchvision's ResNet-50 runs 53 convolutions; each distinct one is listed with its count.
    assert sum(r["count"] for r in convs if r["layout"] == "nchw") == 53
    assert [r["batch"] for r in data["resnet"]] == [1, 2] and all("graph" not in r for r in data["resnet"])
    assert all(r["graph"] is None for r in convs)  # CUDA graphs only on a GPU
    # torchvision's ResNet-50 runs 53 batch norms, 49 ReLUs, 16 residual adds and two pools.
    kinds: dict[str, int] = {}
    for r in data["elementwise"]:
        if r["layout"] == "nchw":
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + r["count"]
    assert kinds == {"batch_norm": 53, "relu": 49, "residual_add": 16, "max_pool": 1, "average_pool": 1}
    # A pool is timed on its input (the quick run's 32 x 32 image: the stem leaves 16 x 16).
    pool = next(r for r in data["elementwise"] if r["kind"] == "max_pool" and r["layout"] == "nchw")
    assert (pool["channels"], pool["height"]) == (64, 16)
    assert pool["bytes"] == (2 * 64 * 16 * 16 + 2 * 64 * 8 * 8) * 4  # batch 2, FP32 on a CPU
    assert all(r["bytes_per_s"] > 0 and r["bytes"] > 0 for r in data["elementwise"])
    # Host time per eager call of each module kind; the bottleneck block runs 10 operators.
    dispatch = data["dispatch"]
    assert all(dispatch[name]["per_call_s"] > 0 for name in ("conv2d_3x3", "batch_norm_2d", "relu", "linear"))
    block = dispatch["bottleneck_block"]
    assert block["per_operator_s"] == pytest.approx(block["per_call_s"] / 10)


def test_clock_samples_are_summarised_and_bad_lines_counted(mg) -> None:
    lines = ["1755, 2619, 690.12, 71, 0x0000000000000004", "1650, 2619, 699.80, 74, 0x0000000000000004",
             "1980, 2619, 350.00, 60, 0x0000000000000000", "[N/A], 2619, 300, 60, 0x0", "1700, 2619"]
    s = mg.parse_clock_samples(lines)
    assert (s["samples"], s["unparsed"]) == (3, 2)
    assert (s["sm_mhz_median"], s["sm_mhz_min"], s["mem_mhz_median"]) == (1755, 1650, 2619)
    assert (s["power_w_median"], s["power_w_max"], s["temperature_c_max"]) == (690.12, 699.80, 74)
    assert s["throttle_reasons"] == ["0x0000000000000000", "0x0000000000000004"]
    assert mg.parse_clock_samples([]) == {"samples": 0, "unparsed": 0}


def test_the_sampler_runs_nvidia_smi_beside_the_block_and_survives_its_absence(mg, tmp_path, monkeypatch) -> None:
    """A stand-in nvidia-smi on PATH prints two samples and echoes its arguments; the sampler
    asks for the clock fields of the right GPU and keeps what it printed. Without one, the
    section still runs and the reason is recorded."""
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\n"
                    "echo '1700, 2619, 650.5, 70, 0x0000000000000004'\necho '1720, 2619, 640.5, 71, 0x0000000000000004'\n"
                    "sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    into: dict = {}
    with mg.clock_sampler(1, into, "gemm", period_ms=100):
        time.sleep(0.5)
    assert into["gemm"]["samples"] == 2 and into["gemm"]["sm_mhz_median"] == 1710
    args = (tmp_path / "args").read_text()
    assert "--query-gpu=clocks.sm,clocks.mem,power.draw" in args and "--id=1" in args and "-lms=100" in args
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    ran = []
    with mg.clock_sampler(0, into, "llama"):
        ran.append(True)
    assert ran and into["llama"] == {"error": "nvidia-smi not found"}


def test_sustained_summary_compares_the_held_rate_with_the_first_window(mg) -> None:
    """A board that slows once it reaches its power limit: the first window is the burst, the
    second half of the windows the held rate, with the clocks and power sampled there."""
    def clocks(sm: float, watts: float, reason: str) -> dict:
        return {"samples": 4, "sm_mhz_median": sm, "power_w_median": watts, "throttle_reasons": [reason]}
    windows = [{"tflops": 1400.0, "clocks": clocks(1980, 640, "0x0")},
               {"tflops": 1300.0, "clocks": clocks(1830, 700, "0x4")},
               {"tflops": 1200.0, "clocks": clocks(1700, 699, "0x4")},
               {"tflops": 1180.0, "clocks": clocks(1680, 700, "0x4")},
               {"tflops": 1190.0, "clocks": {"error": "nvidia-smi not found"}}]
    s = mg.sustained_summary(windows)
    assert (s["window_count"], s["first_tflops"], s["sustained_tflops"]) == (5, 1400.0, 1190.0)
    assert s["sustained_over_first"] == pytest.approx(0.85)
    # Windows 3 to 5 are the second half; the one without samples adds no clock.
    assert (s["sustained_sm_mhz_median"], s["sustained_power_w_median"]) == (1690, 699.5)
    assert s["throttle_reasons"] == ["0x4"]
    assert mg.sustained_summary([]) == {"window_count": 0}
    assert "sustained_sm_mhz_median" not in mg.sustained_summary([{"tflops": 2.0}, {"tflops": 1.0}])


def test_a_sustained_row_without_timed_windows_is_a_report_problem(mg) -> None:
    report = mg.new_report({"type": "cpu"}, True)
    report["sustained"] = [{"precision": "bf16", "m": 8, "n": 8, "k": 8, "windows": []}]
    assert mg.check_report(report) == ["sustained GEMM bf16 8x8x8 has no timed window, or one with no throughput"]
    report["sustained"] = [{"precision": "fp8", "m": 8, "n": 8, "k": 8, "error": "no fp8"}]
    assert mg.check_report(report) == []


def test_cpu_smoke_run_of_the_sustained_gemms(mg, tmp_path) -> None:
    """Back-to-back GEMMs for the plan's time, cut into windows, each with a positive rate."""
    pytest.importorskip("torch")
    out = tmp_path / "gpu.json"
    assert mg.main(["--device", "cpu", "--quick", "--out", str(out), "--only", "sustained"]) == 0
    data = json.loads(out.read_text())
    (row,) = data["sustained"]
    quick = mg.plan(True)
    assert (row["precision"], row["m"], row["seconds"]) == ("fp32", quick["sustained"][0][0], quick["sustained_seconds"])
    assert row["window_count"] == len(row["windows"]) >= 2
    assert all(w["tflops"] > 0 and w["calls"] >= 1 and "clocks" not in w for w in row["windows"])
    assert row["windows"][-1]["start_s"] < quick["sustained_seconds"] <= sum(w["seconds"] for w in row["windows"]) * 1.5
    assert "clocks" not in data  # sampled only on a GPU


def test_cpu_smoke_run_of_the_resnet_training_steps(mg, tmp_path):
    """A training step (autocast, backward, SGD) per planned batch, its forward pass timed too."""
    pytest.importorskip("torchvision")
    out = tmp_path / "gpu.json"
    assert mg.main(["--device", "cpu", "--quick", "--iters", "2", "--out", str(out), "--only", "resnet_train"]) == 0
    data = json.loads(out.read_text())
    (row,) = data["resnet_train"]
    assert row["batch"] == mg.plan(True)["train_batches"][0] and row["precision"] == "amp_bfloat16"
    assert 0 < row["forward"]["median_s"] < row["median_s"] and row["images_per_s"] > 0
    assert mg.check_report(data) == []


def test_clock_settings_are_read_once_and_survive_a_missing_or_odd_nvidia_smi(mg, tmp_path, monkeypatch) -> None:
    """The application clocks (and their default), the most the board allows and the power
    limits, as a stand-in nvidia-smi prints them; "[N/A]" stays a string."""
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\n"
                    "echo '1980, 1755, 1980, 2619, 2619, 700.00, 700.00, [N/A]'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    s = mg.clock_settings(2)
    assert s["clocks.applications.graphics"] == 1980 and s["clocks.default_applications.graphics"] == 1755
    assert s["power.limit"] == 700 and s["power.max_limit"] == "[N/A]"
    assert "--id=2" in (tmp_path / "args").read_text()
    fake.write_text("#!/bin/sh\necho 'garbage'\n")
    assert mg.clock_settings(0)["error"].startswith("unexpected nvidia-smi output")
    fake.write_text("#!/bin/sh\nexit 3\n")
    assert mg.clock_settings(0)["error"].startswith("CalledProcessError")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert mg.clock_settings(0) == {"error": "nvidia-smi not found"}
