"""Sliding-window (local) attention: layers that attend only to the last `window` tokens keep
only that many in their KV cache and do that much attention work per token (Mistral 7B v0.1,
Gemma 2 and 3, gpt-oss)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlsysim import ServingModel
from mlsysim.catalog import load_catalog
from mlsysim.solvers.roofline import cached_kv_elements, causal_context
from mlsysim.solvers.terms import model_terms
from mlsysim.solvers.transformer import TransformerShape, attention_flops_per_sequence, windowed_context_sum


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_the_windowed_context_sum_is_the_sum_of_clipped_positions():
    for window in (1.0, 7.0, 128.0):
        for tokens in (0.0, 1.0, 5.0, 7.0, 8.0, 300.0):
            brute = sum(min(i, window) for i in range(1, int(tokens) + 1))
            assert windowed_context_sum(tokens, window) == pytest.approx(brute)


def test_causal_context_and_cache_mix_full_and_windowed_layers():
    """A model with a quarter of its layers windowed at 16 tokens: brute-force sums per layer."""
    m = SimpleNamespace(window=16.0, windowed_share=0.25, kv_elements=8.0)
    for new, past in ((1.0, 0.0), (1.0, 40.0), (10.0, 10.0), (64.0, 0.0), (5.0, 100.0)):
        full = sum(past + i for i in range(1, int(new) + 1))
        local = sum(min(past + i, 16.0) for i in range(1, int(new) + 1))
        assert causal_context(m, new, past) == pytest.approx(0.75 * full + 0.25 * local)
        tokens = past + new
        assert cached_kv_elements(m, tokens) == pytest.approx(8.0 * (0.75 * tokens + 0.25 * min(tokens, 16.0)))
    plain = SimpleNamespace(window=0.0, windowed_share=0.0, kv_elements=8.0)
    assert cached_kv_elements(plain, 1000.0) == 8000.0 and causal_context(plain, 2.0, 3.0) == 2 * 3 + 3


def test_gemma3_27b_keeps_a_window_in_52_of_its_62_layers(catalog):
    """google-deepmind/gemma gm/nn/_gemma.py at 7691fd4, Gemma3_27B: 62 layers, 16 KV heads of
    128, sliding_window_size=1024, attention types from the pattern of five LOCAL_SLIDING and
    one GLOBAL layer: 52 local, 10 global. A sequence of 131,072 tokens keeps
    2 x 16 x 128 x (10 x 131072 + 52 x 1024) elements, 5.9x fewer than without windows."""
    m = model_terms(catalog.get("models", "gemma3_27b"))
    assert (m.window, m.windowed_share) == (1024.0, pytest.approx(52 / 62))
    per_layer = 2 * 16 * 128
    assert cached_kv_elements(m, 131072.0) == pytest.approx(per_layer * (10 * 131072 + 52 * 1024))
    assert cached_kv_elements(m, 1000.0) == pytest.approx(per_layer * 62 * 1000)
    serving = ServingModel(catalog.get("models", "gemma3_27b"), catalog.get("hardware", "h100_sxm"), precision="bf16")
    assert serving.memory(1, 131072.0).kv_cache == pytest.approx(per_layer * (10 * 131072 + 52 * 1024) * 2)


def test_a_window_longer_than_the_sequence_changes_nothing(catalog):
    """Mistral 7B v0.1 (window 4096 in all 32 layers, 'window_size | 4096' in the paper's Table
    1): up to 4,096 tokens it caches and attends like full attention; beyond, its cache stops
    growing."""
    m = model_terms(catalog.get("models", "mistral_7b"))
    assert m.windowed_share == 1.0
    assert cached_kv_elements(m, 4096.0) == pytest.approx(4096 * m.kv_elements)
    assert cached_kv_elements(m, 8192.0) == pytest.approx(4096 * m.kv_elements)
    assert causal_context(m, 4096.0, 0.0) == pytest.approx(4096 * 4097 / 2)


def test_training_counts_the_band_of_the_windowed_layers(catalog):
    """gpt-oss-120b (openai/gpt-oss gpt_oss/torch/model.py at 7b58334: sliding_window 128 on the
    even-numbered of 36 layers): the attention of a 4,096-token sequence is the full layers'
    seq^2 and the banded layers' 2 seq c - c^2 (c = 128), before the causal halving."""
    shape = TransformerShape.from_record(catalog.get("models", "gpt_oss_120b"))
    assert (shape.window, shape.windowed_layers, shape.layers) == (128.0, 18.0, 36.0)
    unwindowed = TransformerShape(**{**shape.__dict__, "window": 0.0, "windowed_layers": 0.0})
    seq = 4096.0
    full = attention_flops_per_sequence(unwindowed, seq)
    assert attention_flops_per_sequence(shape, seq) == pytest.approx(full * (0.5 + 0.5 * (2 * seq * 128 - 128 ** 2) / seq ** 2))
    assert attention_flops_per_sequence(shape, 100.0) == pytest.approx(attention_flops_per_sequence(unwindowed, 100.0))


def test_a_window_needs_its_layer_count(tmp_path):
    """The schema refuses half a description of local attention."""
    from mlsysim.catalog.schemas.workload import Transformer

    base = dict(layers={"value": 2, "source": "s"}, hidden_size={"value": 8, "source": "s"},
                heads={"value": 2, "source": "s"}, ffn_size={"value": 16, "source": "s"},
                vocab_size={"value": 10, "source": "s"}, context_length={"value": 64, "source": "s"},
                mlp="gated", tied_embeddings=False, norm="rmsnorm", position_embedding="rope")
    with pytest.raises(ValueError, match="needs both 'attention_window'"):
        Transformer.model_validate({**base, "attention_window": {"value": 16, "source": "s"}})
