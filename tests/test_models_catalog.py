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
