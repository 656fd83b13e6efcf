"""BigScience BLOOM-176B training measurements (catalog/measurements/bigscience_bloom_*): each
row's published figure and layout pinned against the log line and Slurm script it came from, and
the BLOOM model record against its model card.

Sources: bigscience-workshop/bigscience, train/tr11-176B-ml/README.md at 9e64ede
(https://github.com/bigscience-workshop/bigscience/blob/9e64edec2ad1fb9263bf39ba616a84ff64b4d947/train/tr11-176B-ml/README.md),
the log lines it quotes for the 48-node run:

  "iteration   85376/ 115311 | ... | elapsed time per iteration (s): 104.70 | ... | global batch size: 2048 | ... | samples per second: 19.561 | TFLOPs: 149.77"
  "iteration     3707/  128728 | ... | elapsed time per iteration (s): 15.23 | ... | global batch size:    16 | ... | samples per second: 1.051 | TFLOPs: 8.04 |"

and its Slurm script (train/tr11-176B-ml/tr11-176B-ml.slurm at ed196cd for the 48-node run, at
2699e8c for the ramp-up plan): TP_SIZE=4, PP_SIZE=12, MICRO_BATCH_SIZE=2, NHIDDEN=14336,
NLAYERS=70, NHEADS=112, SEQ_LEN=2048, --bf16, --checkpoint-activations, --pad-vocab-size-to
250880, ZERO_STAGE=0 with the bf16 optimizer's own ZeRO-1 sharding. The rows kept, by a rule fixed
before any prediction was seen: every log line the README quotes for the 176B model's run on 48
nodes. Model card (https://huggingface.co/bigscience/bloom): "176,247,271,424 parameters:
3,596,615,680 embedding parameters", "70 layers, 112 attention heads", "Hidden layers are
14336-dimensional".

The layout search (train/tr11-176B-ml/chronicles-prequel.md at 9e64ede, section 'Rebalancing
layers'), every row of its table for BLOOM's final width and depth, kept by the same kind of rule
(the whole table, fixed before any prediction was seen):

  "NHIDDEN=14336; NLAYERS=70; Model size: 176B, ratio=204"
  "|    48 | 176B |  4 |  8 | 12 |   2 |     64 | 2048 | 40GB | 121.63 | 128.92 | 02-28 |"
  "|    48 | 176B |  8 |  4 | 12 |   2 |     64 | 2048 | 59GB | 102.03 | 153.68 | 02-28 |"
  "|    48 | 176B |  8 |  4 | 12 |   2 |    112 | 2048 | 59GB | 104.50 | 150.05 | 02-28 |"
  "|    48 | 176B |  8 |  4 | 12 |   2 |    128 | 2048 | 60GB | 105.89 | 148.08 | 02-28 |"
  "|    48 | 176B |  8 |  4 | 12 |   4 |     64 | 2048 | 73GB | 102.27 | 153.33 | 02-28 |"

(columns Nodes | Size | DP | TP | PP | MBS | NHEADS | GBS | Mem | Sec/it | TFLOPs | Notes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCE = "bigscience-tr11-176b-readme"

# id: (global batch, seconds per iteration as logged, samples per second as logged)
ROWS = {
    "bigscience_bloom_176b_384gpu_gbs2048": (2048, 104.70, 19.561),
    "bigscience_bloom_176b_384gpu_gbs16": (16, 15.23, 1.051),
}


PREQUEL = "bigscience-tr11-176b-prequel"
# id: (DP, TP, MBS, heads, seconds per iteration as printed); every row PP 12, GBS 2048, 48 nodes
PREQUEL_ROWS = {
    "bigscience_prequel_bloom_176b_h64_tp8_pp12_dp4_mbs2": (4, 8, 2, 64, 121.63),
    "bigscience_prequel_bloom_176b_h64_tp4_pp12_dp8_mbs2": (8, 4, 2, 64, 102.03),
    "bigscience_prequel_bloom_176b_h112_tp4_pp12_dp8_mbs2": (8, 4, 2, 112, 104.50),
    "bigscience_prequel_bloom_176b_h128_tp4_pp12_dp8_mbs2": (8, 4, 2, 128, 105.89),
    "bigscience_prequel_bloom_176b_h64_tp4_pp12_dp8_mbs4": (8, 4, 4, 64, 102.27),
}


@pytest.fixture(scope="module")
def catalog():
    from mlsysim.catalog import load_catalog

    return load_catalog(REPO / "catalog")


def test_every_bloom_row_is_pinned_here(catalog):
    """A row added from the README gets its logged figures checked below."""
    on_record = {r.id for r in catalog.records("measurements") if r.claims["measured"]["source"] == SOURCE}
    assert on_record == set(ROWS)


@pytest.mark.parametrize("row_id", sorted(ROWS))
def test_logged_figure_and_layout(catalog, row_id):
    """The figure is the log line's 'elapsed time per iteration (s)' (module docstring); its
    samples per second are the global batch over it; the layout is the Slurm script's on 48
    nodes of 8 GPUs, attention scores materialised (Megatron-DeepSpeed of 2022)."""
    gbs, seconds, samples = ROWS[row_id]
    rec = catalog.get("measurements", row_id)
    claim = rec.claims["measured"]
    assert claim["source"] == SOURCE and claim.get("method") == "measured"
    assert rec.si("measured") == pytest.approx(seconds, rel=1e-12)
    assert f"elapsed time per iteration (s): {seconds:.2f}" in claim["as_stated"]
    assert gbs / seconds == pytest.approx(samples, rel=2e-3)
    assert rec.get("metric") == "step_time" and rec.get("category") == "training"
    assert (rec.ref_id("hardware"), int(rec.get("devices")), rec.ref_id("cluster")) == (
        "a100_sxm_80gb", 384, "jeanzay_a100_80gb_48n")
    config = rec.plain_fields["config"]
    layout = config["parallelism"]
    assert (config["batch_size"], config["sequence_length"], config["precision"]) == (gbs, 2048, "bf16")
    assert (layout["tp"], layout["pp"], layout["dp"], layout["zero"], layout["microbatch"]) == (4, 12, 8, 1, 2)
    assert (layout["recompute"], layout["schedule"], config["fused_attention"]) == ("full", "1f1b", False)
    # DeepSpeed's bf16 optimizer accumulates fp32 gradients, and the pipeline engine all-reduces
    # them in full before the ZeRO-1 update (source deepspeed-bf16-optimizer)
    assert layout["grad_reduce_fp32"] is True and layout["full_grad_allreduce"] is True


def test_model_record_counts_the_model_cards_parameters(catalog):
    """Megatron-LM's GPT block with biases (12 h^2 + 13 h, the README's count), the 250,880
    padded embedding rows, and the embedding and final LayerNorms (2 x 2 h) give the card's
    176,247,271,424 parameters; the embedding alone is its 3,596,615,680."""
    h, layers, vocab = 14336, 70, 250880
    assert vocab * h == 3_596_615_680
    assert layers * (12 * h * h + 13 * h) + vocab * h + 4 * h == 176_247_271_424
    model = catalog.get("models", "bloom_176b")
    assert model.si("parameters") == pytest.approx(176_247_271_424, rel=1e-12)
    assert (model.si("transformer.hidden_size"), model.si("transformer.layers"), model.si("transformer.heads")) == (
        h, layers, 112)
    assert model.si("transformer.vocab_size") == vocab and model.si("transformer.ffn_size") == 4 * h


def test_jean_zay_fabric_gives_each_gpu_half_an_omni_path_link(catalog):
    """Four 100 Gbit/s Omni-Path links per node of eight GPUs (README: '4 OmniPath links'; the
    trade press: 'Intel Omni-Path 100 Gb/s'): 400 Gbit/s per node, 50 Gbit/s per GPU."""
    from mlsysim.solvers.fleet import Fleet

    fleet = Fleet.from_cluster(catalog.get("clusters", "jeanzay_a100_80gb_48n"))
    assert fleet.devices == 384
    assert fleet.inter_bw_per_device == pytest.approx(400e9 / 8 / 8, rel=1e-12)


def test_both_rows_reach_the_distributed_solver(catalog):
    """Each row is expressible: DistributedModel on its cluster, layout and global batch."""
    from mlsysim.evaluate.validation import OK, run_one

    for row_id in ROWS:
        result = run_one(catalog.get("measurements", row_id), catalog)
        assert result.status == OK and result.predicted > 0, (row_id, result.reason)


def test_every_layout_search_row_is_pinned_here(catalog):
    on_record = {r.id for r in catalog.records("measurements") if r.claims["measured"]["source"] == PREQUEL}
    assert on_record == set(PREQUEL_ROWS)


@pytest.mark.parametrize("row_id", sorted(PREQUEL_ROWS))
def test_layout_search_figure_layout_and_heads(catalog, row_id):
    """The figure is the row's Sec/it (module docstring); DP, TP and MBS are the row's, PP 12 on
    384 GPUs at a global batch of 2,048; the model is BLOOM's shape with the row's heads (the
    same parameters: heads split the width, they add none)."""
    dp, tp, mbs, heads, seconds = PREQUEL_ROWS[row_id]
    rec = catalog.get("measurements", row_id)
    claim = rec.claims["measured"]
    assert rec.si("measured") == pytest.approx(seconds, rel=1e-12) and f"| {seconds:.2f} |" in claim["as_stated"]
    cells = [c.strip() for c in claim["as_stated"].strip().strip("|").split("|")]
    assert cells[:8] == ["48", "176B", str(dp), str(tp), "12", str(mbs), str(heads), "2048"]
    layout = rec.plain_fields["config"]["parallelism"]
    assert (layout["dp"], layout["tp"], layout["pp"], layout["microbatch"]) == (dp, tp, 12, mbs)
    # The page's bf16 optimizer: fp32 gradients all-reduced in full before the ZeRO-1 update.
    assert (layout["zero"], layout["grad_reduce_fp32"], layout["full_grad_allreduce"]) == (1, True, True)
    assert (rec.plain_fields["config"]["batch_size"], int(rec.get("devices"))) == (2048, 384)
    model = catalog.get("models", rec.ref_id("model"))
    assert model.si("transformer.heads") == heads
    assert model.si("parameters") == pytest.approx(176_247_271_424, rel=1e-12)
