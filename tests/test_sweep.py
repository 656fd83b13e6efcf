"""Vectorised sweeps (mlsysim/solvers/sweep.py): every row equals the scalar Engine.solve."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlsysim import Engine, Hardware, Models
from mlsysim.errors import MlsysimError
from mlsysim.solvers.sweep import NUMERIC_COLUMNS

HARDWARE = ["H100", "A100", "L4", "T4", "MI300X", "TPUv5p", "B200"]
MODELS = ["Llama3_8B", "Mixtral_8x7B", "DeepSeek_V3", "GPT2", "ResNet50", "Mamba_130M"]
PRECISIONS = ["fp16", "bf16", "fp8", "int8", "fp4"]


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    hardware=st.lists(st.sampled_from(HARDWARE), min_size=1, max_size=3, unique=True),
    precisions=st.lists(st.sampled_from(PRECISIONS), min_size=1, max_size=3, unique=True),
    batches=st.lists(st.integers(1, 4096), min_size=1, max_size=4),
    seqs=st.lists(st.integers(1, 1024), min_size=1, max_size=3),
    efficiency=st.one_of(st.none(), st.floats(0.05, 1.0)),
)
def test_every_row_equals_the_scalar_solve(model, hardware, precisions, batches, seqs, efficiency) -> None:
    m = Models.get(model)
    hw = [Hardware.get(h) for h in hardware]
    seq_lens = [None] if m.has("flops_per_inference") else seqs
    try:
        table = Engine.sweep(m, hw, batch_sizes=batches, precisions=precisions, seq_lens=seq_lens, efficiency=efficiency)
    except MlsysimError as exc:
        assert "nothing to sweep" in str(exc)
        return
    rows = table.rows()
    assert len(rows) == len(table) == (len(hw) * len(precisions) - len(table.skipped)) * len(batches) * len(seq_lens)
    for row in rows:
        seq = None if seq_lens == [None] else row["seq_len"]
        p = Engine.solve(m, Hardware.get(row["hardware"]), batch_size=row["batch_size"], precision=row["precision"],
                         efficiency=efficiency, seq_len=seq)
        assert row["bottleneck"] == p.bottleneck and row["feasible"] == p.feasible
        assert row["mfu"] == pytest.approx(p.mfu, rel=1e-12) and row["mbu"] == pytest.approx(p.mbu, rel=1e-12)
        for name in (n for n in NUMERIC_COLUMNS[2:] if n not in ("mfu", "mbu")):
            assert row[name] == pytest.approx(p.si[name], rel=1e-12), name


def test_missing_precisions_are_listed_not_substituted() -> None:
    table = Engine.sweep(Models.Language.Llama3_8B, [Hardware.Cloud.H100, Hardware.Cloud.A100], precisions=["fp8"])
    assert set(table["hardware"].tolist()) == {"H100"}
    assert [(h, p) for h, p, _ in table.skipped] == [("A100", "fp8")]
    with pytest.raises(MlsysimError, match="nothing to sweep.*A100 has no dense fp8 peak"):
        Engine.sweep(Models.Language.Llama3_8B, [Hardware.Cloud.A100], precisions=["fp8"])


def test_sweep_input_errors() -> None:
    with pytest.raises(MlsysimError, match="batch_sizes must be whole numbers >= 1"):
        Engine.sweep(Models.Language.Llama3_8B, Hardware.Cloud.H100, batch_sizes=[0, 1])
    with pytest.raises(MlsysimError, match="seq_len 10000 exceeds"):
        Engine.sweep(Models.Language.Llama3_8B, Hardware.Cloud.H100, seq_lens=[10000])
    with pytest.raises(MlsysimError, match="seq_lens apply to token models"):
        Engine.sweep(Models.Vision.ResNet50, Hardware.Cloud.T4, precisions=["int8"], seq_lens=[4])
    with pytest.raises(MlsysimError, match="no hardware record named 'H1000'"):
        Engine.sweep(Models.Language.Llama3_8B, ["H100", "H1000"])
    with pytest.raises(MlsysimError, match="unknown numeric format"):
        Engine.sweep(Models.Language.Llama3_8B, Hardware.Cloud.H100, precisions=["fp7"])


def test_columns_are_arrays_and_lineage_is_kept() -> None:
    table = Engine.sweep(Models.Language.Llama3_8B, "H100", batch_sizes=[1, 2, 4], seq_lens=[1, 128])
    assert table["latency"].shape == (6,)
    assert "hardware/h100_sxm#memory.bandwidth" in table.lineage
