"""plot_roofline (mlsysim/site/plot.py); skipped unless the `plots` extra (matplotlib) is installed."""

from __future__ import annotations

import pytest

from mlsysim import Engine, Hardware, Models
from mlsysim.errors import MlsysimError

pytest.importorskip("matplotlib")


def test_roofline_marks_ridge_and_each_workload(tmp_path) -> None:
    from mlsysim import plot_roofline

    h100 = Hardware.Cloud.H100
    decode = Engine.solve(Models.Language.Llama3_8B, h100)
    prefill = Engine.solve(Models.Language.Llama3_8B, h100, seq_len=2048)
    fig, ax = plot_roofline(h100, workloads=[decode, prefill, Models.Vision.ResNet50])
    ax = fig.axes[0]
    ridge = h100.compute.fp16.si / h100.memory.bandwidth.si
    assert any(list(line.get_xdata()) == [pytest.approx(ridge)] for line in ax.lines)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Llama3_8B b1 (memory)" in labels and "Llama3_8B b1 s2048 (compute)" in labels
    assert any(label.startswith("ResNet50 b1") for label in labels)
    point = next(line for line in ax.lines if line.get_label() == "Llama3_8B b1 s2048 (compute)")
    assert point.get_ydata()[0] == pytest.approx(prefill.si["flops"] / prefill.si["latency"])
    fig.savefig(tmp_path / "roofline.png")
    assert (tmp_path / "roofline.png").stat().st_size > 1000


def test_workload_from_other_hardware_is_refused() -> None:
    from mlsysim import plot_roofline

    other = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.A100)
    with pytest.raises(MlsysimError, match="was solved on A100 at fp16, not H100 at fp16"):
        plot_roofline(Hardware.Cloud.H100, workloads=[other])
