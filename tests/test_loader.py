"""mlsysim/catalog/loader.py + crosscheck.py: every class of bad input is reported with
its file, line, column, field, problem and fix; all problems are collected."""

from __future__ import annotations

import pytest

from mlsysim.catalog import check, load_catalog
from mlsysim.errors import CatalogError

HW = "hardware/cloud/fx100.yaml"
NODE = "systems/nodes/fixture_node.yaml"


def problems_of(root):
    _, problems = check(root)
    return [str(p) for p in problems]


def only_problem(root):
    found = problems_of(root)
    assert len(found) == 1, found
    return found[0]


def replace_in(catalog_copy, rel, old, new):
    from tests.conftest import FIXTURE_CATALOG

    text = (FIXTURE_CATALOG / rel).read_text()
    assert old in text
    return catalog_copy({rel: text.replace(old, new)})


def test_fixture_catalog_is_valid(fixture_catalog):
    assert problems_of(fixture_catalog) == []


def test_unknown_field_suggests_closest_name(catalog_copy):
    root = replace_in(catalog_copy, HW, "  bandwidth: {value: 4,", "  bandwith: {value: 4,")
    assert only_problem(root) == f"{HW}:20:3: memory.bandwith: unknown field 'bandwith'; did you mean 'bandwidth'?"


def test_unknown_field_inside_a_claim(catalog_copy):
    root = replace_in(catalog_copy, HW, "tdp: {value: 700, unit: W,", "tdp: {value: 700, units: W,")
    assert only_problem(root) == f"{HW}:21:19: tdp.units: unknown field 'units'; did you mean 'unit'?"


def test_wrong_dimension_names_a_valid_unit(catalog_copy):
    root = replace_in(catalog_copy, HW, "bandwidth: {value: 4, unit: TB/s", "bandwidth: {value: 4, unit: TB")
    assert only_problem(root) == f"{HW}:20:31: memory.bandwidth.unit: 'TB' is not a bandwidth; write e.g. 'TB/s'"


def test_unknown_unit(catalog_copy):
    root = replace_in(catalog_copy, HW, "capacity: {value: 80, unit: GB", "capacity: {value: 80, unit: KB")
    assert only_problem(root).endswith("memory.capacity.unit: unknown unit 'KB'; write 'kB' (10^3 bytes) or 'KiB' (2^10 bytes)")


def test_non_positive_value(catalog_copy):
    root = replace_in(catalog_copy, HW, "tdp: {value: 700,", "tdp: {value: -700,")
    assert only_problem(root) == f"{HW}:21:14: tdp.value: must be positive, got -700; check the source and the sign"


def test_bare_number_needs_a_citation(catalog_copy):
    root = replace_in(catalog_copy, HW, "tdp: {value: 700, unit: W, source: fixture-datasheet}", "tdp: 700")
    assert only_problem(root) == f"{HW}:21:6: tdp: a bare number (700) has no citation; write {{value: 700, unit: ..., source: <id in sources.yaml>}}"


def test_missing_source_field(catalog_copy):
    root = replace_in(catalog_copy, HW, "tdp: {value: 700, unit: W, source: fixture-datasheet}", "tdp: {value: 700, unit: W}")
    assert only_problem(root) == f"{HW}:21:6: tdp.source: required field 'source' is missing; add it"


def test_unknown_source_suggests_closest(catalog_copy):
    root = replace_in(catalog_copy, HW, "tdp: {value: 700, unit: W, source: fixture-datasheet}", "tdp: {value: 700, unit: W, source: fixture-datasheets}")
    assert only_problem(root) == f"{HW}:21:6: tdp: source 'fixture-datasheets' is not in sources.yaml; add it there or did you mean 'fixture-datasheet'?"


def test_estimate_needs_a_note(catalog_copy):
    root = replace_in(catalog_copy, HW, ', method: estimated, note: "fixture estimate"}', ", method: estimated}")
    assert only_problem(root) == f"{HW}:22:12: unit_cost: an estimated value needs a 'note' saying what the estimate rests on"


def test_derived_needs_formula(catalog_copy):
    root = replace_in(catalog_copy, HW, '    formula: "sparse / 2"\n', "")
    assert only_problem(root) == f"{HW}:10:5: compute.fp8: a derived value needs 'derived_from' (claim paths) and 'formula'"


def test_derived_from_must_resolve(catalog_copy):
    root = replace_in(catalog_copy, HW, "hardware/fx100#compute_sparse.fp8", "hardware/fx100#compute_sparse.fp4")
    assert only_problem(root) == f"{HW}:10:5: compute.fp8: derived_from 'hardware/fx100#compute_sparse.fp4' names no cited value; did you mean 'hardware/fx100#compute_sparse.fp8'?"


def test_duplicate_keys_are_each_reported(catalog_copy):
    root = replace_in(catalog_copy, HW, "tier: cloud\n", "tier: cloud\ntier: edge\n")
    assert only_problem(root) == f"{HW}:5:1: tier: duplicate key (first at line 4); remove or rename one of the two"


def test_yaml_syntax_error(catalog_copy):
    root = replace_in(catalog_copy, HW, "tier: cloud\n", "tier: [cloud\n")
    assert only_problem(root).startswith(f"{HW}:")
    assert "fix the YAML syntax" in only_problem(root)


def test_duplicate_ids_across_files(catalog_copy):
    from tests.conftest import FIXTURE_CATALOG

    text = (FIXTURE_CATALOG / HW).read_text().replace("aliases: [FX100]", "aliases: [FX100b]")
    root = catalog_copy({"hardware/edge/fx100.yaml": text.replace("tier: cloud", "tier: edge")})
    found = problems_of(root)
    assert "hardware/edge/fx100.yaml:1:5: id: duplicate id 'fx100', also used by hardware/cloud/fx100.yaml; give one of them another id" in found


def test_dangling_reference_suggests_closest(catalog_copy):
    root = replace_in(catalog_copy, NODE, "accelerator: fx100", "accelerator: fx10")
    assert only_problem(root) == f"{NODE}:4:14: accelerator: no hardware record with id 'fx10'; did you mean 'fx100'?"


def test_id_must_match_file_name(catalog_copy):
    root = replace_in(catalog_copy, HW, "id: fx100", "id: fx200")
    assert f"{HW}:1:5: id: id 'fx200' differs from the file name; rename the file to fx200.yaml or set 'id: fx100'" in problems_of(root)


def test_tier_must_match_directory(catalog_copy):
    root = replace_in(catalog_copy, HW, "tier: cloud", "tier: edge")
    assert only_problem(root) == f"{HW}:4:7: tier: tier is 'edge' but the file is not in hardware/edge/; move it there or fix 'tier'"


def test_sparse_figure_in_dense_table(catalog_copy):
    root = replace_in(catalog_copy, HW, "qualifiers: {sparsity: dense}", "qualifiers: {sparsity: sparse}")
    assert only_problem(root) == (
        f"{HW}:8:117: compute.fp16.qualifiers.sparsity: a sparse figure in 'compute', which holds dense figures; move it to 'compute_sparse'"
    )


def test_compute_units_needs_its_kind(catalog_copy):
    """An SM or CU count must say which it counts (the wave-quantization term reads SMs)."""
    line = 'compute_units: {value: 132, source: fixture-datasheet}\n'
    root = replace_in(catalog_copy, HW, "tdp: {value: 700", line + "tdp: {value: 700")
    assert only_problem(root) == (
        f"{HW}:21:16: compute_units.qualifiers: needs unit_kind: one of SM, CU (what the count counts), got None"
    )


def test_compute_units_is_a_whole_count(catalog_copy):
    line = 'compute_units: {value: 131.5, source: fixture-datasheet, qualifiers: {unit_kind: SM}}\n'
    root = replace_in(catalog_copy, HW, "tdp: {value: 700", line + "tdp: {value: 700")
    assert only_problem(root) == f"{HW}:21:24: compute_units.value: a count of SMs must be a whole number, got 131.5"


def test_unknown_precision_key(catalog_copy):
    root = replace_in(catalog_copy, HW, "  fp16: {value: 1000", "  fp17: {value: 1000")
    problem = only_problem(root)
    assert problem.startswith(f"{HW}:8:3: compute.fp17: key 'fp17' is not allowed; use one of 'fp64'")


def test_grid_needs_basis(catalog_copy):
    rel = "grids/fixture_grid.yaml"
    root = replace_in(catalog_copy, rel, ", qualifiers: {basis: lifecycle}", "")
    assert only_problem(root) == f"{rel}:5:19: carbon_intensity: needs qualifiers: {{basis: lifecycle}} or {{basis: direct}}"


def test_assumption_dimension_is_checked(catalog_copy):
    rel = "assumptions/fixture_mttf.yaml"
    root = replace_in(catalog_copy, rel, "unit: hour", "unit: GB")
    assert only_problem(root) == f"{rel}:5:32: quantity.unit: 'GB' is not a time; write e.g. 'hour'"


def test_file_outside_kind_directories(catalog_copy):
    root = catalog_copy({"gadgets/thing.yaml": "id: thing\n"})
    assert only_problem(root).startswith("gadgets/thing.yaml:1:1: not in a record directory; move it under one of hardware/,")


def test_bad_source_entry(catalog_copy):
    from tests.conftest import FIXTURE_CATALOG

    text = (FIXTURE_CATALOG / "sources.yaml").read_text().replace("  url: https://fixture.invalid/grid.csv\n", "  url: ftp://fixture.invalid/grid.csv\n")
    root = catalog_copy({"sources.yaml": text})
    assert only_problem(root) == "sources.yaml:18:8: fixture-grid-data.url: 'ftp://fixture.invalid/grid.csv' has the wrong form; write an http:// or https:// URL"


def test_every_problem_in_every_file_is_collected(catalog_copy):
    replace_in(catalog_copy, HW, "tdp: {value: 700,", "tdp: {value: -700,")
    replace_in(catalog_copy, NODE, "accelerator: fx100", "accelerator: fx10")
    root = replace_in(catalog_copy, "grids/fixture_grid.yaml", "region: XX", "regoin: XX")
    found = problems_of(root)
    assert len(found) == 3, found
    with pytest.raises(CatalogError, match=r"3 problems in the catalog:\n"):
        load_catalog(root)


def test_a_fixed_file_is_revalidated_from_cache(catalog_copy):
    root = replace_in(catalog_copy, HW, "tdp: {value: 700,", "tdp: {value: -700,")
    assert len(problems_of(root)) == 1
    root = replace_in(catalog_copy, HW, "tdp: {value: 700,", "tdp: {value: 700,")
    assert problems_of(root) == []


def test_flops_need_their_mac_or_flop_convention(catalog_copy):
    rel = "models/vision/fixture_cnn.yaml"
    root = replace_in(catalog_copy, rel, ", qualifiers: {convention: MAC}", "")
    assert only_problem(root) == f"{rel}:7:22: flops_per_inference: needs qualifiers: {{convention: MAC}} or {{convention: FLOP}} (does the source count multiply-accumulates?)"
    root = replace_in(catalog_copy, rel, "unit: GMAC", "unit: GFLOP")
    assert only_problem(root).endswith("flops_per_inference.unit: unit 'GFLOP' disagrees with convention MAC; write e.g. 'GMAC' for multiply-accumulates, 'GFLOP' for operations")
