"""Solvers refuse nonsense arguments with MlsysimError naming the parameter and the valid
range (never a ZeroDivisionError, an OverflowError, an inf/NaN result or a silent answer)."""

from __future__ import annotations


import pytest

from mlsysim.errors import MlsysimError
from mlsysim.solvers.serving import ServingModel

from tests.conftest import load_script

fuzz = load_script("fuzz_cli", "fuzz_cli_solvers")

CASES = fuzz.solver_cases()


@pytest.mark.parametrize("name,fn", CASES, ids=[name for name, _ in CASES])
def test_solver_edge_case_is_refused(name: str, fn) -> None:
    verdict, detail = fuzz.judge_solver(fn)
    assert verdict in ("located error", None), f"{verdict}: {detail}"


def test_tp_must_split_heads_and_the_error_lists_the_valid_degrees() -> None:
    with pytest.raises(MlsysimError, match=r"tensor parallelism = 3 .*32 attention heads, 8 KV heads.*1, 2, 4, 8, 16, 32"):
        ServingModel("Llama3_8B", "H100", tp=3)
    # A GQA model with fewer KV heads than GPUs replicates them: tp=16 over 8 KV heads is valid.
    assert ServingModel("Llama3_8B", "H100", tp=16).kv_cache_bytes_per_token() > 0


@pytest.mark.parametrize("call,param", [
    (lambda s: s.prefill(0), "prompt_tokens"),
    (lambda s: s.decode_step(-1), "context"),
    (lambda s: s.max_batch_size(0), "tokens"),
])
def test_serving_counts_name_the_parameter(call, param: str) -> None:
    with pytest.raises(MlsysimError, match=param):
        call(ServingModel("Llama3_8B", "H100"))
