"""Training on GB200 and GB300 NVL72 racks: 72 GPUs in one NVLink domain, racks joined by
InfiniBand XDR, and the Megatron-Bridge rows that run on them (one of which offloads
activations to the Grace CPU, which no solver models)."""

from __future__ import annotations

import pytest

from mlsysim import DistributedModel
from mlsysim.catalog import load_catalog
from mlsysim.evaluate.validation import run_one
from mlsysim.solvers.fleet import fleet_of


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.mark.parametrize("gpu", ["gb200", "gb300"])
def test_an_nvl72_rack_is_one_nvlink_domain_of_72_gpus(catalog, gpu):
    """NVIDIA's AIConfigurator system files (gb200.yaml, gb300.yaml at 095f58a, node section):
    num_gpus_per_rack 72; inter_node_bw 900e9 B/s per GPU, single direction, NVLink via NVSwitch
    within the rack; inter_rack_bw 100e9 B/s per GPU, single direction (CX8 XDR 800 Gb/s)."""
    fleet = fleet_of(catalog.get("clusters", f"{gpu}_nvl72_4_racks"), 256)
    assert (fleet.per_node, fleet.nodes) == (72, 4)
    assert fleet.intra_bw == pytest.approx(900e9)
    assert fleet.inter_bw_per_device == pytest.approx(100e9)
    # A job of up to 72 GPUs stays inside one rack, on NVLink only.
    assert fleet_of(catalog.get("clusters", f"{gpu}_nvl72_4_racks"), 64).nodes == 1


def test_data_parallel_inside_a_rack_is_faster_than_across_racks(catalog):
    """The same ZeRO-3 job on 64 GPUs costs more exposed communication when it must cross the
    800 Gbit/s fabric than on NVLink inside one rack: a DGX B200 node holds 8 GPUs, a GB200
    NVL72 rack 72."""
    def exposed(cluster: str, hardware_note: str) -> float:
        result = DistributedModel().solve(
            catalog.get("models", "llama3_70b"), catalog.get("clusters", cluster), batch_size=64, precision="fp8",
            efficiency=catalog.get("assumptions", "gemm_compute_efficiency"), devices=64, zero=3, microbatch=1,
            recompute="full", seq_len=8192, efficiency_mode="first_principles")
        assert result.feasible, hardware_note
        return result.dp_comm_time
    assert exposed("gb200_nvl72_4_racks", "GB200") < exposed("training_1k_b200", "B200")


@pytest.mark.parametrize("gpu, layers", [("gb200", 40), ("gb300", 20)])
def test_a_run_that_offloads_activations_is_not_expressible(catalog, gpu, layers):
    """Megatron-Bridge's 25.11 FP8-CS presets for Llama 3 70B on GB200 and GB300
    (llama3_workload_base_configs.py at 00b7660) set cpu_offloading_num_layers 40 and 20: those
    layers' activations wait in the Grace CPU's memory, which the solver does not model."""
    row = run_one(catalog.get("measurements", f"mbridge2511_llama3_70b_{gpu}_nvl72_64gpu_fp8"), catalog)
    assert row.status == "not expressible"
    assert f"activations of {layers} layers are offloaded to host memory" in row.reason
