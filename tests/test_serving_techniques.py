"""Prefix caching, chunked prefill, speculative decoding and disaggregated prefill/decode
(mlsysim/solvers/serving.py, speculative.py, disaggregated.py)."""

from __future__ import annotations

import pytest

from mlsysim import Hardware, Models, ServingModel, Systems
from mlsysim.errors import MlsysimError
from mlsysim.solvers.disaggregated import DisaggregatedServing, kv_transfer_time
from mlsysim.solvers.speculative import SpeculativeDecoding, expected_tokens


@pytest.fixture(scope="module")
def h100() -> ServingModel:
    return ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)


def test_prefix_cache_hit_computes_only_the_new_tokens(h100: ServingModel) -> None:
    """A cached prefix of 3,584 of 4,096 prompt tokens: the pass computes 512 new tokens
    attending to all 4,096 (its attention spans the cached ones), so it equals a 512-token
    pass with 3,584 tokens of past context, and is far shorter than the whole prompt."""
    hit = h100.prefill(4096, cached_tokens=3584)
    assert hit.time == h100._pass(1.0, 512.0, 3584.0).time
    assert hit.time < h100.prefill(4096).time / 4
    # Attention over the cached context costs more than a 512-token prompt alone.
    assert hit.attention_compute > h100.prefill(512).attention_compute
    assert h100.solve(4096, 64, cached_tokens=3584).ttft == hit.time


def test_chunked_prefill_sums_its_chunks(h100: ServingModel) -> None:
    """4,096 tokens in chunks of 1,024: four passes, chunk i attending to i x 1,024 earlier
    tokens; every chunk reads the weights and pays the launches again, so but for the
    element-wise traffic the sum is slower than one pass, and its FLOPs are the same. A
    chunk's norms and residual adds (1,024 x 4,096 x 2 B in, as much out) stay in the H100's
    50 MB L2, the whole prompt's do not: the chunks' element-wise traffic is smaller."""
    whole = h100.prefill(4096)
    chunks = [h100._pass(1.0, 1024.0, float(past)) for past in (0, 1024, 2048, 3072)]
    chunked = h100.prefill(4096, chunk_tokens=1024)
    assert chunked.time == pytest.approx(sum(c.time for c in chunks), rel=1e-12)
    assert chunked.flops == pytest.approx(whole.flops, rel=1e-12)
    assert chunked.launch == pytest.approx(4 * whole.launch)
    assert chunked.time - chunked.elementwise > whole.time - whole.elementwise
    assert chunked.elementwise < whole.elementwise
    # A ragged last chunk, and a chunk as long as the prompt, which is one pass.
    assert h100.prefill(1000, chunk_tokens=300).flops == pytest.approx(h100.prefill(1000).flops, rel=1e-12)
    assert h100.prefill(1000, chunk_tokens=1000) == h100.prefill(1000)


def test_prefill_options_refuse_bad_input(h100: ServingModel) -> None:
    with pytest.raises(MlsysimError, match="cached_tokens .* must be below prompt_tokens"):
        h100.prefill(512, cached_tokens=512)
    with pytest.raises(MlsysimError, match="chunk_tokens"):
        h100.prefill(512, chunk_tokens=0)
    with pytest.raises(MlsysimError, match="cached_tokens"):
        h100.prefill(512, cached_tokens=-1)


def test_expected_tokens_per_iteration() -> None:
    """Leviathan et al. 2023 (arXiv 2211.17192), expected tokens per iteration: E = (1 - a^(g+1)) / (1 - a).
    a = 0.8, g = 4: (1 - 0.8^5) / 0.2 = 3.3616; every draft kept (a = 1): g + 1."""
    assert expected_tokens(0.8, 4.0) == pytest.approx(3.3616)
    assert expected_tokens(1.0, 4.0) == 5.0
    assert expected_tokens(0.5, 1.0) == pytest.approx(1.5)


def test_speculative_decoding_prices_draft_steps_and_one_verification_pass() -> None:
    target = ServingModel(Models.Language.Llama3_70B, Hardware.Cloud.H200, precision="fp8")
    draft = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H200, precision="fp8")
    spec = SpeculativeDecoding(target, draft, draft_tokens=4, acceptance_rate=0.8)
    r = spec.solve(1024, 256)
    context = 1024 + 128.0
    assert r.draft_time == pytest.approx(sum(draft._pass(1.0, 1.0, context + i).time for i in range(4)))
    assert r.verify_time == target._pass(1.0, 5.0, context).time
    assert r.itl == pytest.approx((r.draft_time + r.verify_time) / expected_tokens(0.8, 4.0))
    assert r.plain_itl == target._pass(1.0, 1.0, context).time
    # Batch 1 decode of a 70B model is weight-read bound: five tokens verify in about the time
    # of one, so speculation pays off; the draft's own steps keep it below the ideal 3.36x.
    assert 1.5 < r.speedup < expected_tokens(0.8, 4.0)
    assert r.ttft == target.prefill(1024).time + draft.prefill(1024).time
    assert r.memory_fits and not r.warnings
    assert r.to_dict()["speedup"] == r.speedup


def test_speculation_that_does_not_pay_says_so() -> None:
    """A low acceptance rate with many draft tokens: more time per token than plain decoding."""
    target = ServingModel(Models.Language.Llama3_70B, Hardware.Cloud.H200, precision="fp8")
    draft = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H200, precision="fp8")
    r = SpeculativeDecoding(target, draft, draft_tokens=8, acceptance_rate=0.3).solve(1024, 256)
    assert r.speedup < 1 and any("slower than plain decoding" in w for w in r.warnings)


def test_speculative_decoding_refuses_bad_input() -> None:
    target = ServingModel(Models.Language.Llama3_70B, Hardware.Cloud.H200, precision="fp8")
    draft = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, precision="fp8")
    with pytest.raises(MlsysimError, match="runs both on the target's GPUs"):
        SpeculativeDecoding(target, draft, 4, 0.8)
    same = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H200, precision="fp8")
    with pytest.raises(MlsysimError, match="acceptance_rate"):
        SpeculativeDecoding(target, same, 4, 1.5)
    with pytest.raises(MlsysimError, match="acceptance_rate 0"):
        SpeculativeDecoding(target, same, 4, 0)
    with pytest.raises(MlsysimError, match="draft_tokens"):
        SpeculativeDecoding(target, same, 0, 0.8)


def test_disaggregated_ttft_adds_the_kv_transfer() -> None:
    """Llama 3 70B, FP8 KV cache: 2 x 80 layers x 8 KV heads x 128 x 1 B = 163,840 B per token;
    16 prompts of 4,096 tokens = 10.74 GB, sent by the prefill instance's 4 GPUs, each over its
    own 400 Gb/s NIC of the DGX H100 (50 GB/s per direction): 53.7 ms."""
    prefill = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, precision="fp8", tp=4)
    decode = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, precision="fp8", tp=4)
    r = DisaggregatedServing(prefill, decode, link=Systems.Nodes.DGX_H100).solve(4096, 512, batch_size=16)
    assert r.kv_bytes == 16 * 4096 * 163840
    assert r.kv_transfer == pytest.approx(r.kv_bytes / (4 * 50e9))
    assert r.ttft == pytest.approx(prefill.prefill(4096, 16).time + r.kv_transfer)
    colocated = decode.solve(4096, 512, 16)
    assert r.itl == colocated.itl
    assert r.prefill_instances_per_decode == pytest.approx(r.ttft / (colocated.latency - colocated.ttft))
    assert kv_transfer_time(1e9, 1e9, 2) == 0.5
    # A slower link: a bandwidth given as a number [B/s].
    slow = DisaggregatedServing(prefill, decode, link=1e9).solve(4096, 512, batch_size=16)
    assert slow.kv_transfer == pytest.approx(r.kv_bytes / 4e9)


def test_disaggregated_refuses_mismatched_instances() -> None:
    prefill = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, precision="fp8", tp=4)
    other = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, precision="fp8")
    with pytest.raises(MlsysimError, match="same model"):
        DisaggregatedServing(prefill, other, link=1e9)
    with pytest.raises(MlsysimError, match="inter-node bandwidth"):
        DisaggregatedServing(prefill, prefill, link=Hardware.Cloud.H100)


def test_chunked_continuous_batching_shares_the_weight_read() -> None:
    """Stall-free batching (Sarathi-Serve, arXiv 2403.02310): a prefill chunk rides an
    iteration with the decodes, so its GEMMs share their weight read; at 32 requests of a
    2,048-token prompt and 256 outputs the mean iteration is shorter than decode step +
    whole prefills, while a prompt's first token waits for its four chunk iterations."""
    s = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, precision="fp8", tp=2)
    whole = s.continuous_batching(32, 2048, 256)
    chunked = s.continuous_batching(32, 2048, 256, token_budget=32 + 512)
    assert chunked.token_budget == 544 and whole.token_budget is None
    assert chunked.iteration < whole.iteration and chunked.tokens_per_second > whole.tokens_per_second
    carrying = s._mixed_iteration(32, 2048 + 255 / 2, 512.0, 2048, 512)
    alone = s._mixed_iteration(32, 2048 + 255 / 2, 0.0, 2048, 512)
    share = 32 / 256 * 2048 / 512  # prefill tokens an iteration needs, in chunks
    assert chunked.iteration == pytest.approx(share * carrying.time + (1 - share) * alone.time, rel=1e-12)
    assert chunked.ttft == pytest.approx(4 * carrying.time, rel=1e-12)
    # An iteration without a chunk is a decode step of the 32 requests.
    assert alone.time == pytest.approx(s._pass(32.0, 1.0, 2048 + 255 / 2).time, rel=1e-12)


def test_chunked_continuous_batching_budget_checks() -> None:
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    with pytest.raises(MlsysimError, match="leaves no room for a prefill chunk"):
        s.continuous_batching(64, 512, 128, token_budget=64)
    r = s.continuous_batching(256, 2048, 64, token_budget=256 + 512)
    assert any("budget leaves 512" in w for w in r.warnings)


def test_chunked_prefill_under_poisson_load(h100: ServingModel) -> None:
    """Under a token budget the prefill queue serves one prompt's chunk-carrying iterations at a
    time (Sarathi-Serve's stall-free batching): TTFT = that service time + the M/M/1 wait, at most
    budget - 1 requests decode at once, and without a budget nothing changes."""
    plain = h100.under_load(5.0, 2048, 256)
    assert plain.token_budget is None and plain.prefill == pytest.approx(h100.prefill(2048, 1).time)
    chunked = h100.under_load(5.0, 2048, 256, token_budget=512)
    steady = h100.continuous_batching(int(chunked.concurrency), 2048, 256, token_budget=512)
    assert chunked.token_budget == 512 and chunked.stable
    assert chunked.prefill == pytest.approx(steady.ttft)
    assert chunked.itl == pytest.approx(steady.iteration)
    rho = 5.0 * chunked.prefill
    assert chunked.utilization == pytest.approx(rho)
    assert chunked.ttft_mean == pytest.approx(chunked.prefill + rho / (1 - rho) * chunked.prefill)
    # A small budget caps the requests in flight below it; arrivals beyond that capacity queue without bound.
    small = h100.under_load(1000.0, 2048, 256, token_budget=64)
    assert not small.stable and small.concurrency == 63
    assert h100.at_concurrency(8, 2048, 256, token_budget=512).token_budget == 512
    with pytest.raises(MlsysimError, match="at least 2 tokens"):
        h100.under_load(1.0, 2048, 256, token_budget=1)


def test_chunked_prefill_under_a_latency_slo(h100: ServingModel) -> None:
    """max_rate_under_slo with a token budget meets both limits at the rate it returns, and 1%
    more arrivals break one of them (or the queue)."""
    best = h100.max_rate_under_slo(2048, 256, 2.0, 0.1, token_budget=2048 + 256)
    assert best.token_budget == 2048 + 256 and best.stable
    from mlsysim.solvers.serving import mm1_wait_quantile

    assert best.prefill + mm1_wait_quantile(best.utilization, best.prefill, 0.99) <= 2.0
    assert best.itl <= 0.1
    more = h100.under_load(best.arrival_rate * 1.01, 2048, 256, token_budget=2048 + 256)
    worse = (not more.stable or more.itl > 0.1
             or more.prefill + mm1_wait_quantile(more.utilization, more.prefill, 0.99) > 2.0)
    assert worse
