"""A copy of the real catalog with test-local records (clusters the catalog does not
hold), shared by the fleet-solver tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REAL_CATALOG

SELENE = """id: test_selene_a100
name: Test cluster of DGX A100 nodes on HDR InfiniBand (Selene-like)
node: dgx_a100
node_count: 192
fabric: infiniband_hdr
"""

BLOOM_NODES = """id: test_bloom_48_nodes
name: Test cluster of 48 eight-GPU A100 servers (BLOOM's 384 GPUs on 48 nodes)
node: dgx_a100
node_count: 48
fabric: infiniband_hdr
"""

PRICED_GRID = """id: test_priced_grid
name: Test grid with an electricity price
region: XX
carbon_intensity: {value: 400, unit: gCO2e/kWh, source: arxiv-llama3-herd, valid_time: 2024, qualifiers: {basis: lifecycle}}
electricity_price: {value: 0.1, unit: USD/kWh, source: arxiv-llama3-herd, valid_time: 2024, method: estimated, note: "test-local"}
"""

UNPRICED_GRID = """id: test_unpriced_grid
name: Test grid without an electricity price
region: YY
carbon_intensity: {value: 300, unit: gCO2e/kWh, source: arxiv-llama3-herd, valid_time: 2024, qualifiers: {basis: lifecycle}}
"""


def build(root: Path) -> Path:
    target = root / "catalog"
    shutil.copytree(REAL_CATALOG, target)
    (target / "systems/clusters/test_selene_a100.yaml").write_text(SELENE)
    (target / "systems/clusters/test_bloom_48_nodes.yaml").write_text(BLOOM_NODES)
    (target / "grids/test_priced_grid.yaml").write_text(PRICED_GRID)
    (target / "grids/test_unpriced_grid.yaml").write_text(UNPRICED_GRID)
    return target
