"""Hostile input to the catalog side: values that are not numbers, counts that are not
counts, citations that cite themselves, YAML built to crash or exhaust the parser, unit
strings that are arithmetic, and a cache that could carry code or altered data. Each is
a located error (file:line:col) or a rebuilt cache: never a crash, a hang, code run, or
nonsense accepted."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mlsysim.catalog import cache, check, load_catalog
from mlsysim.catalog.paths import cache_dir

HW = "hardware/cloud/fx100.yaml"
CLUSTER = "systems/clusters/fixture_cluster.yaml"


def _fixture_text(rel: str) -> str:
    from tests.conftest import FIXTURE_CATALOG

    return (FIXTURE_CATALOG / rel).read_text(encoding="utf-8")


def _problems(root) -> list[str]:
    return [str(p) for p in check(root)[1]]


def _with(catalog_copy, rel, old, new):
    text = _fixture_text(rel)
    assert old in text
    return catalog_copy({rel: text.replace(old, new)})


@pytest.mark.parametrize("value, problem", [
    (".nan", "not a finite number"),
    (".inf", "not a finite number"),
    ("1e400", "not a finite number"),
    ("1e308", "too large to compute with"),
])
def test_values_that_are_not_numbers_are_located_errors(catalog_copy, value, problem):
    root = _with(catalog_copy, HW, "bandwidth: {value: 4,", f"bandwidth: {{value: {value},")
    (found,) = _problems(root)
    assert found.startswith(f"{HW}:20:") and "memory.bandwidth" in found and problem in found


@pytest.mark.parametrize("count", ["0", "-5", "2.5"])
def test_node_count_is_a_positive_whole_number(catalog_copy, count):
    root = _with(catalog_copy, CLUSTER, "node_count: 8", f"node_count: {count}")
    (found,) = _problems(root)
    assert found.startswith(f"{CLUSTER}:5:") and "node_count" in found


def test_layers_must_be_whole(catalog_copy):
    rel = "models/language/fixture_lm.yaml"
    text = _fixture_text(rel)
    layers_line = next(line for line in text.splitlines() if "layers:" in line)
    root = catalog_copy({rel: text.replace(layers_line, layers_line.replace("value: ", "value: 1.5 #", 1).split("#")[0] + ", source: fixture-datasheet}")})
    found = _problems(root)
    assert any("transformer.layers" in p and "whole number" in p for p in found), found


def test_a_value_derived_from_itself_is_a_located_error(catalog_copy):
    root = _with(catalog_copy, HW, 'derived_from: ["hardware/fx100#compute_sparse.fp8"]', 'derived_from: ["hardware/fx100#compute.fp8"]')
    (found,) = _problems(root)
    assert found.startswith(f"{HW}:") and "cycle" in found and "hardware/fx100#compute.fp8 -> hardware/fx100#compute.fp8" in found


@pytest.mark.parametrize("name, text, problem", [
    ("deep-flow", "id: fx100\nname: " + "[" * 100_000, "nested more than 64 levels"),
    ("deep-block", "id: fx100\n" + "".join(" " * i + f"k{i}:\n" for i in range(300)), "indented more than 256 columns"),
    ("alias-bomb", "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
                   for p, c in zip("abcdefgh", "bcdefghi")), "aliases"),
    ("nul", "id: fx100\nname: Fixture\x00 FX100\n", "NUL character"),
    ("complex-key", "id: fx100\n? [a, b]\n: 1\n", "key must be a plain name"),
    ("self-alias", "id: &x fx100\nname: *x\nmemory: &m {capacity: *m}\n", "aliases"),
])
def test_hostile_yaml_is_a_located_error_quickly(catalog_copy, name, text, problem):
    root = catalog_copy({HW: text})
    started = time.perf_counter()
    found = _problems(root)
    assert time.perf_counter() - started < 10
    assert any(p.startswith(f"{HW}:") and problem in p for p in found), found


@pytest.mark.parametrize("unit", ["gCO2e/kWh * 10**10**10", "TB/s*10**10", "__import__('os')"])
def test_unit_strings_are_units_not_arithmetic(catalog_copy, unit):
    root = _with(catalog_copy, HW, "bandwidth: {value: 4, unit: TB/s", f'bandwidth: {{value: 4, unit: "{unit}"')
    started = time.perf_counter()
    (found,) = _problems(root)
    assert time.perf_counter() - started < 10 and "memory.bandwidth.unit" in found and "is not a unit" in found


class _Planted:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['MLSYSIM_CACHE_DIR']}/pwned",))


def test_a_planted_pickle_never_runs(fixture_catalog):
    load_catalog(fixture_catalog)
    target = cache._cache_file(fixture_catalog)
    for path in (target, target.with_suffix(".pickle")):
        path.write_bytes(pickle.dumps(_Planted()))
    assert load_catalog(fixture_catalog).get("hardware", "fx100").memory.bandwidth.si == 4e12
    assert not (cache_dir() / "pwned").exists()


def test_a_cache_others_may_write_is_ignored(fixture_catalog, monkeypatch):
    load_catalog(fixture_catalog)
    target = cache._cache_file(fixture_catalog)
    assert cache.read(fixture_catalog) is not None
    target.chmod(0o666)
    assert cache.read(fixture_catalog) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_corrupted_cache_is_rebuilt_never_served(fixture_catalog, data):
    truth = load_catalog(fixture_catalog)
    expected = [(v.path, v.si, v.locator, v.as_stated) for r in truth.records() for v in r.values()]
    target = cache._cache_file(fixture_catalog)
    blob = bytearray(target.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    target.write_bytes(bytes(blob))
    target.chmod(0o644)
    again = load_catalog(fixture_catalog)
    assert [(v.path, v.si, v.locator, v.as_stated) for r in again.records() for v in r.values()] == expected


def test_each_file_is_read_once_so_what_is_hashed_is_what_is_validated(catalog_copy, monkeypatch):
    """An edit between hashing and validating once stored content B's result under A's hash."""
    root = catalog_copy()
    reads: dict[Path, int] = {}
    original = Path.read_bytes
    def counting(self: Path) -> bytes:
        if self.suffix == ".yaml":
            reads[self] = reads.get(self, 0) + 1
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: pytest.fail(f"{self} read as text besides its one read"))
    load_catalog(root)
    assert len(reads) == 11 and set(reads.values()) == {1}, reads
