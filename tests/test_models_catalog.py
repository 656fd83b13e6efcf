"""The derived-parameter check, tight per record: a transformer's stated parameter count
(and, for a mixture of experts, its active count) must agree with the count its own
architecture fields give (mlsysim/solvers/transformer.py `parameter_count`).

No blanket allowance. A value the catalog derives itself must match exactly; a figure
copied from a source may differ by at most TIGHT (0.5%), which is what rounding to three
significant digits can cost. A record whose source rounds harder, or counts something the
architecture block does not describe, is listed in EXPLAINED with its own bound and the
reason, and the bound is checked from both sides: the record must stay within it, and the
bound must not be looser than twice the deviation it covers, so an allowance cannot hide a
later error. A one-digit size label such as "7B" would otherwise allow +-7.1%
(0.5 / 7): the Llama 2 7B record carried Meta's "7B" while its architecture gives
6,738,415,616 (-3.7%), which the old 2% check could not see at all for Llama 2 70B
(-1.5%) and only just for 7B.
"""

from __future__ import annotations

import dataclasses

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.solvers.transformer import TransformerShape, parameter_count
from tests.conftest import REAL_CATALOG

TIGHT = 0.005
EXACT = 1e-9

# (model id, "parameters" | "active_parameters") -> (largest allowed |deviation|, why).
EXPLAINED: dict[tuple[str, str], tuple[float, str]] = {
    ("llama2_70b", "parameters"): (0.02, 'Meta\'s model card states "70B"; the architecture gives 68.98B (-1.46%).'),
    ("llama3_70b", "parameters"): (0.01, 'Meta states "70B"; the architecture gives 70.55B (+0.79%).'),
    ("llama3_1_70b", "parameters"): (0.01, 'Meta states "70B"; the architecture gives 70.55B (+0.79%).'),
    ("llama3_3_70b", "parameters"): (0.01, 'Meta states "70B"; the architecture gives 70.55B (+0.79%).'),
    ("opt_13b", "parameters"): (0.015, 'The OPT paper states "13B"; the architecture gives 12.85B (-1.13%).'),
    ("bert_large", "parameters"): (0.02, 'The BERT paper states "340M"; the architecture with the pooler gives 335.1M (-1.43%).'),
    ("megatron_gpt_3_6b", "parameters"): (0.015, "Megatron-LM Table 1 rounds to tenths of a billion: 3.56B is printed as 3.6 (-1.05%)."),
    ("llama4_scout", "parameters"): (0.015, "Meta's 109B includes the vision encoder, which the text architecture block does not describe (-1.13%)."),
    ("llama4_scout", "active_parameters"): (0.015, 'Meta states "17B (Activated)"; the text architecture gives 17.17B (+1.02%).'),
    ("llama4_maverick", "active_parameters"): (0.015, 'Meta states "17B (Activated)"; the text architecture gives 17.18B (+1.09%).'),
    ("qwen3_235b_a22b", "active_parameters"): (0.012, 'The Qwen3 report states "22B activated"; the architecture gives 22.19B (+0.87%).'),
    ("deepseek_v3", "active_parameters"): (0.02, 'DeepSeek states "37B" (README) and 36.7B (README_WEIGHTS); the architecture gives 37.55B (+1.49%).'),
    ("deepseek_r1", "active_parameters"): (0.02, 'DeepSeek states "37B" for the V3 architecture R1 uses; the architecture gives 37.55B (+1.49%).'),
    ("gpt_oss_120b", "active_parameters"): (0.01, "Derived from OpenAI's 5.1B, rounded to tenths of a billion (+-0.9%), plus the input embedding; the architecture gives 5.71B (+0.56%)."),
    ("gpt_oss_20b", "active_parameters"): (0.0035, "Derived from OpenAI's 3.6B, rounded to tenths of a billion (+-1.4%), plus the input embedding; the architecture gives 4.19B (+0.18%)."),
    ("mistral_small_3_1", "parameters"): (0.025, 'Mistral\'s Sizes table states "24B" for the multimodal checkpoint; the text decoder gives 23.57B (-1.78%), the rest being mostly the vision encoder, which the text architecture block does not describe.'),
    ("megatron_gpt_1_7b", "parameters"): (5e-6, "Derived with Megatron-LM's Equation (2), which leaves out the final LayerNorm (2h = 4,608 parameters)."),
}

_catalog = load_catalog(REAL_CATALOG)
TRANSFORMERS = [r for r in _catalog.records("models") if r.architecture == "transformer"]
CHECKS = [(m, field) for m in TRANSFORMERS for field in ("parameters", "active_parameters") if m.has(field)]


def _derived(model, field: str) -> float:
    count = parameter_count(TransformerShape.from_record(model))
    return count.total if field == "parameters" else count.active


def allowed_deviation(model, field: str) -> float:
    """The relative deviation the check accepts for one value of one record."""
    if (model.id, field) in EXPLAINED:
        return EXPLAINED[(model.id, field)][0]
    return EXACT if getattr(model, field).method == "derived" else TIGHT


def deviation_problem(model, field: str, stated: float) -> str | None:
    """None if `stated` agrees with the architecture within the record's allowance, else the reason."""
    derived = _derived(model, field)
    deviation = derived / stated - 1
    allowed = allowed_deviation(model, field)
    if abs(deviation) <= allowed:
        return None
    return (f"{model.id}.{field}: architecture gives {derived:,.0f}, the record states {stated:,.0f} "
            f"({deviation:+.3%}, allowed +-{allowed:.3%}); fix the architecture or the value, "
            "or explain the gap in EXPLAINED")


@pytest.mark.parametrize(("model", "field"), CHECKS, ids=lambda x: x if isinstance(x, str) else x.id)
def test_stated_count_matches_the_architecture_tightly(model, field):
    problem = deviation_problem(model, field, getattr(model, field).si)
    assert problem is None, problem


@pytest.mark.parametrize("key", sorted(EXPLAINED), ids="/".join)
def test_every_explained_allowance_is_needed_and_not_loose(key):
    """An allowance must cover a real gap (beyond TIGHT, or any gap for a derived value) and
    be at most twice that gap, so a later error cannot hide inside it."""
    model_id, field = key
    model = _catalog.get("models", model_id)
    value = getattr(model, field)
    gap = abs(_derived(model, field) / value.si - 1)
    floor = EXACT if value.method == "derived" else TIGHT
    allowed, why = EXPLAINED[key]
    assert gap > floor, f"{model_id}.{field} now agrees within {floor:.1e}; remove its allowance"
    assert allowed <= 2 * gap, f"{model_id}.{field}: allowance {allowed:.3%} is loose for a {gap:.3%} gap"
    assert why


def test_llama2_7b_stated_as_its_size_label_would_be_caught():
    """Meta's card states Llama 2 7B as "7B" (Llama 2 model card, Model Details table); the
    released checkpoint has 6,738,415,616 parameters. Stored as 7e9, the record must fail
    the check (-3.7%), though a one-digit label would allow +-7.1%."""
    model = _catalog.get("models", "llama2_7b")
    assert deviation_problem(model, "parameters", 6_738_415_616) is None
    assert ("llama2_7b", "parameters") not in EXPLAINED
    gap = _derived(model, "parameters") / 7e9 - 1
    assert gap == pytest.approx(-0.0374, abs=5e-4)
    assert abs(gap) > TIGHT  # even as a copied (not derived) figure it is out of bounds
    problem = deviation_problem(model, "parameters", 7e9)
    assert problem is not None and "-3.7" in problem


def test_a_wrong_architecture_field_is_caught():
    """A copy error of one unit in the layer count of Qwen3-8B (36, Qwen3 report Table 1)
    moves the count by 2.4%, far beyond the allowance."""
    model = _catalog.get("models", "qwen3_8b")
    shape = TransformerShape.from_record(model)
    wrong = parameter_count(dataclasses.replace(shape, layers=shape.layers - 1)).total
    assert abs(wrong / model.parameters.si - 1) > allowed_deviation(model, "parameters")


# ---- the records added for issue 13 (reference-simulator names and the 2025 models)

@pytest.mark.parametrize(
    ("name", "model_id", "group"),
    [
        ("Kimi_K2", "kimi_k2", "Language"),
        ("Qwen3_8B", "qwen3_8b", "Language"),
        ("Qwen3_32B", "qwen3_32b", "Language"),
        ("Qwen3_30B_A3B", "qwen3_30b_a3b", "Language"),
        ("Mistral_7B", "mistral_7b", "Language"),
        ("Phi_4", "phi_4", "Language"),
        ("PaLM_540B", "palm_540b", "Language"),
        ("Llama3_405B", "llama3_1_405b", "Language"),
        ("Whisper", "whisper_large_v3", "Speech"),
        ("Whisper_Turbo", "whisper_large_v3_turbo", "Speech"),
        ("ACT_ALOHA", "act_aloha", "Embodied"),
        ("Mistral_Small", "mistral_small_3_1", "Language"),
        ("Mistral_Large", "mistral_large_2", "Language"),
        ("SDXL", "sdxl", "GenerativeVision"),
    ],
)
def test_reference_and_issue_names_resolve(name, model_id, group):
    """The reference simulator (mlsysim 0.3.0 registries) spells PaLM_540B, Llama3_405B,
    ACT_ALOHA, Mistral_Small and SDXL this way; issue 13 names Kimi K2, Qwen 3, Mistral
    7B/Small/Large, Phi-4, Whisper and SDXL."""
    import mlsysim

    assert _catalog.get("models", name).id == model_id
    assert getattr(getattr(mlsysim.Models, group), name).id == model_id


@pytest.mark.parametrize(
    ("model_id", "layers", "heads", "kv_heads"),
    [
        # Qwen3 report (arXiv 2505.09388) Table 1: "Qwen3-8B 36 32 / 8", "Qwen3-32B 64 64 / 8";
        # Table 2: "Qwen3-30B-A3B 48 32 / 4".
        ("qwen3_8b", 36, 32, 8),
        ("qwen3_32b", 64, 64, 8),
        ("qwen3_30b_a3b", 48, 32, 4),
    ],
)
def test_qwen3_layers_and_heads_are_the_reports(model_id, layers, heads, kv_heads):
    shape = TransformerShape.from_record(_catalog.get("models", model_id))
    assert (shape.layers, shape.heads, shape.kv_heads, shape.head_dim) == (layers, heads, kv_heads, 128)


def test_qwen3_sizes_round_to_their_names():
    """Qwen3-8B and Qwen3-32B model names; Qwen3-30B-A3B: "# Total Params ... 30B" (report
    Table 5) and about 3B activated (the "A3B" of its name)."""
    for model_id, label in (("qwen3_8b", 8e9), ("qwen3_32b", 32e9)):
        assert _catalog.get("models", model_id).parameters.si == pytest.approx(label, rel=0.03)
    moe = parameter_count(TransformerShape.from_record(_catalog.get("models", "qwen3_30b_a3b")))
    assert moe.total == pytest.approx(30e9, rel=0.02)
    assert moe.active == pytest.approx(3.35e9, rel=0.01)
    assert moe.active / moe.total < 0.12


def test_kimi_k2_is_a_trillion_parameters_with_32b_active():
    """Moonshot AI's Kimi K2 model summary: "Total Parameters 1T", "Activated Parameters 32B",
    384 experts, 8 selected, 1 shared, 1 dense layer of 61, MLA attention."""
    from mlsysim.solvers.transformer import kv_cache_elements_per_token

    model = _catalog.get("models", "kimi_k2")
    shape = TransformerShape.from_record(model)
    count = parameter_count(shape)
    assert count.total == pytest.approx(1e12, rel=0.03)
    assert count.active == pytest.approx(32e9, rel=0.03)
    assert (shape.experts_total, shape.experts_active, shape.shared_experts, shape.dense_layers) == (384, 8, 1, 1)
    assert kv_cache_elements_per_token(shape) == 61 * (512 + 64)


def test_mistral_7b_is_the_papers_table_1_and_the_docs_size():
    """Mistral 7B paper Table 1 (dim 4096, n_layers 32, hidden_dim 14336, n_kv_heads 8,
    vocab_size 32000); Mistral's docs Sizes table: Mistral-7B-v0.3 "7.3B", whose vocabulary
    ("Extended vocabulary to 32768") adds 768 rows to the embedding and to the output layer."""
    model = _catalog.get("models", "mistral_7b")
    v01 = _derived(model, "parameters")
    assert v01 == 7_241_732_096
    v03 = v01 + 2 * 768 * 4096
    assert v03 == pytest.approx(7.3e9, rel=0.008)


def test_palm_uses_multi_query_attention_narrower_than_its_width():
    """PaLM paper (arXiv 2204.02311) Table 1: "PaLM 540B | 118 | 48 | 18432 | 540.35"; its caption:
    "attention head size is always 256"; Section 2: key and value "are projected to [1,h]". So 48
    heads of 256 = 12288 query width against d_model 18432, one shared key/value head; the count
    lands within 0.07% of the abstract's 540B and 0.005% of Table 1's 540.35B."""
    shape = TransformerShape.from_record(_catalog.get("models", "palm_540b"))
    assert shape.kv_heads == 1
    assert shape.heads * shape.head_dim == 12288 < shape.hidden
    assert parameter_count(shape).total == pytest.approx(540e9, rel=7e-4)
    assert parameter_count(shape).total == pytest.approx(540.35e9, rel=5e-5)


def test_whisper_sizes_are_openais():
    """openai/whisper model card: "| large | 1550 M |"; README: "| turbo | 809 M |"."""
    assert _catalog.get("models", "whisper_large_v3").parameters.si == 1.55e9
    assert _catalog.get("models", "whisper_large_v3_turbo").parameters.si == 809e6


# ---- values re-cited to the authors' own documents (issue 13, item 2)

def _value(path: str):
    kind_id, field = path.split("#")
    kind, record_id = kind_id.split("/")
    matches = [v for v in _catalog.get(kind, record_id).values() if v.path == path]
    assert len(matches) == 1, f"{path}: expected one value, found {len(matches)}"
    return matches[0]


RECITED = [
    # GPT-3 paper (Brown et al. 2020, arXiv 2005.14165), Table 2.1 row
    # "GPT-3 175B or 'GPT-3' | 175.0B | 96 | 12288 | 96 | 128"; Section 2.1: "dff = 4 * dmodel",
    # "All models use a context window of nctx = 2048 tokens".
    ("models/gpt3#transformer.layers", 96, "arxiv-gpt3"),
    ("models/gpt3#transformer.hidden_size", 12288, "arxiv-gpt3"),
    ("models/gpt3#transformer.heads", 96, "arxiv-gpt3"),
    ("models/gpt3#transformer.head_dim", 128, "arxiv-gpt3"),
    ("models/gpt3#transformer.ffn_size", 49152, "arxiv-gpt3"),
    ("models/gpt3#transformer.context_length", 2048, "arxiv-gpt3"),
    # PaLM paper (Chowdhery et al. 2022, arXiv 2204.02311): Table 1 "PaLM 540B | 118 | 48 | 18432
    # | 540.35"; caption "attention head size is always 256", "dff is always 4 x dmodel";
    # Section 2 "vocabulary with 256k tokens"; Section 5 "A sequence length of 2048".
    ("models/palm_540b#parameters", 540.35e9, "arxiv-palm"),
    ("models/palm_540b#transformer.layers", 118, "arxiv-palm"),
    ("models/palm_540b#transformer.hidden_size", 18432, "arxiv-palm"),
    ("models/palm_540b#transformer.heads", 48, "arxiv-palm"),
    ("models/palm_540b#transformer.kv_heads", 1, "arxiv-palm"),
    ("models/palm_540b#transformer.head_dim", 256, "arxiv-palm"),
    ("models/palm_540b#transformer.ffn_size", 73728, "arxiv-palm"),
    ("models/palm_540b#transformer.vocab_size", 256000, "arxiv-palm"),
    ("models/palm_540b#transformer.context_length", 2048, "arxiv-palm"),
    # gpt-oss model card (OpenAI, arXiv 2508.10925): "gpt-oss-20b with 24 layers"; "(128 for
    # gpt-oss-120b and 32 for gpt-oss-20b)" experts; "context length of dense layers to 131,072".
    ("models/gpt_oss_20b#transformer.layers", 24, "openai-gpt-oss-model-card"),
    ("models/gpt_oss_20b#transformer.experts_total", 32, "openai-gpt-oss-model-card"),
    ("models/gpt_oss_20b#transformer.context_length", 131072, "openai-gpt-oss-model-card"),
    ("models/gpt_oss_120b#transformer.context_length", 131072, "openai-gpt-oss-model-card"),
    # Qwen documentation, GPTQ guide: "The intermediate size for the FFN blocks in Qwen2.5-72B is
    # 29568"; its padding recipe reshapes down_proj to (8192, 29568*2).
    ("models/qwen2_5_72b#transformer.hidden_size", 8192, "qwen-docs-gptq"),
    ("models/qwen2_5_72b#transformer.ffn_size", 29568, "qwen-docs-gptq"),
    # Meta's Llama 4 tokenizer (meta-llama/llama-models models/llama4/tokenizer.py):
    # "num_reserved_special_tokens = 2048" on 200,000 BPE ranks, "self.n_words: int =
    # num_base_tokens + len(special_tokens)"; generation.py asserts vocab_size == n_words.
    ("models/llama4_scout#transformer.vocab_size", 202048, "meta-llama4-tokenizer-py"),
    ("models/llama4_maverick#transformer.vocab_size", 202048, "meta-llama4-tokenizer-py"),
    # LeCun et al. 1989, Section 3.3: "the network has 1256 units, 64,660 connections, and 9760
    # independent parameters"; one multiply-add (2 FLOP in SI) per connection.
    ("models/lenet1#parameters", 9760, "lecun-1989-zip-code"),
    ("models/lenet1#flops_per_inference", 2 * 64660, "lecun-1989-zip-code"),
]


@pytest.mark.parametrize(("path", "expected", "source_id"), RECITED, ids=[r[0] for r in RECITED])
def test_recited_value_is_the_authors_figure(path, expected, source_id):
    """Each value keeps its figure and now cites the authors' own document (the source named
    in the comment above its row), which the bibliography marks primary."""
    value = _value(path)
    assert value.source_id == source_id
    assert value.si == pytest.approx(expected, rel=1e-9)
    assert _catalog.sources[source_id].get("authority", "primary") == "primary"


def test_no_model_value_rests_on_the_replaced_secondary_sources():
    """The summaries and reimplementations the re-cited values used to rest on (a summary page
    of the GPT-3 paper, a PaLM reimplementation, NVIDIA's gpt-oss bridge documentation and a
    reproduction's notes on LeCun 1989) are no longer what any model value cites."""
    replaced = {"labindex-gpt3", "lucidrains-palm-pytorch", "nvidia-megatron-bridge-gpt-oss",
                "karpathy-lecun1989-repro-readme"}
    used = {v.source_id for r in _catalog.records("models") for v in r.values()}
    assert not used & replaced


def test_new_mistral_and_sdxl_records_are_the_documents_figures():
    """Mistral docs Sizes table: "| Mistral-Small-Instruct-2503  | 24B |", "| Mistral-Large-
    Instruct-2411  | 123B |"; mistralai/Mistral-Small-3.1-24B-Instruct-2503 config.json
    text_config: 40 layers, hidden 5120, 32/8 heads of 128, intermediate 32768, vocab 131072;
    SDXL paper (arXiv 2307.01952) Table 1: "# of UNet params | 2.6B"."""
    small = TransformerShape.from_record(_catalog.get("models", "mistral_small_3_1"))
    assert (small.layers, small.hidden, small.heads, small.kv_heads, small.head_dim) == (40, 5120, 32, 8, 128)
    assert parameter_count(small).total == pytest.approx(23_572_403_200, rel=1e-9)
    large = _catalog.get("models", "mistral_large_2")
    assert large.parameters.si == 123e9
    assert parameter_count(TransformerShape.from_record(large)).total == pytest.approx(123e9, rel=TIGHT)
    assert _catalog.get("models", "sdxl").parameters.si == 2.6e9
