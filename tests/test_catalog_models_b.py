"""Model records added for the 2026 catalog (Mixtral 8x22B, gpt-oss, GPT-2 small, the
torchvision / TensorFlow reference CNNs and ViTs, YOLOv8n, DLRM-DCNv2, FLUX.1, OpenVLA,
Octo): stated parameter counts agree with the architecture, mixtures of experts agree on
total and active parameters, and compute per image is plausible for the parameter count.
"""

from __future__ import annotations

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.solvers.transformer import TransformerShape, parameter_count
from tests.conftest import REAL_CATALOG

TOLERANCE = 0.02

_catalog = load_catalog(REAL_CATALOG)


def _model(model_id):
    return _catalog.get("models", model_id)


def _count(model_id):
    return parameter_count(TransformerShape.from_record(_model(model_id)))


def _macs(model):
    """Multiply-accumulates per inference: the unit registry defines 1 MAC = 2 FLOP, so the
    SI value of either convention is in FLOP."""
    return model.flops_per_inference.si / 2


@pytest.mark.parametrize(
    ("model_id", "stated"),
    [
        # Mistral AI docs, Sizes table: "| Mixtral-8x22B-v0.3  | 140.6B                  | 39.1B".
        ("mixtral_8x22b", 140.6e9),
        # openai/gpt-oss README: "(117B parameters with 5.1B active parameters)".
        ("gpt_oss_120b", 117e9),
        # openai/gpt-oss README: "(21B parameters with 3.6B active parameters)".
        ("gpt_oss_20b", 21e9),
        # openai/gpt-2 README: "python3 download_model.py 124M" (117M was a miscount).
        ("gpt2_small", 124e6),
    ],
)
def test_total_parameters_match_the_published_count(model_id, stated):
    assert _model(model_id).parameters.si == pytest.approx(stated, rel=1e-9)
    assert _count(model_id).total == pytest.approx(stated, rel=TOLERANCE)


def test_mixtral_8x22b_active_parameters():
    """Mixtral 8x22B: 39B of 141B active (2 of 8 experts per token, attention shared)."""
    count = _count("mixtral_8x22b")
    assert count.active == pytest.approx(39e9, rel=TOLERANCE)
    assert count.active / count.total == pytest.approx(39 / 141, rel=0.03)


@pytest.mark.parametrize(("model_id", "openai_active"), [("gpt_oss_120b", 5.1e9), ("gpt_oss_20b", 3.6e9)])
def test_gpt_oss_active_parameters_follow_openais_convention(model_id, openai_active):
    """OpenAI's active counts (README: 5.1B and 3.6B) leave out the input embedding but keep
    the unembedding; the architecture reproduces them that way, and the record's active
    value (which, as everywhere in this catalog, includes the embedding) equals OpenAI's plus
    the embedding table."""
    count = _count(model_id)
    assert count.active - count.embedding == pytest.approx(openai_active, rel=TOLERANCE)
    assert _model(model_id).active_parameters.si == pytest.approx(count.active, rel=TOLERANCE)
    assert _model(model_id).active_parameters.si == pytest.approx(openai_active + count.embedding, rel=0.005)


def test_gpt_oss_sizes_share_a_layer_and_differ_in_depth_and_experts():
    """Both sizes have the same per-layer attention; 120b has 36 layers x 128 experts, 20b 24 x 32."""
    big, small = _count("gpt_oss_120b"), _count("gpt_oss_20b")
    assert big.attention / 36 == pytest.approx(small.attention / 24)
    assert big.embedding == small.embedding


def test_gpt2_small_architecture_gives_the_released_checkpoint():
    """Golden value: the 124M checkpoint's tensors sum to 124,439,808 (12 layers of 768 with
    biases, 1024 learned positions, 50257-token tied embedding)."""
    assert _count("gpt2_small").total == 124_439_808


def test_yolov8n_parameters_are_ultralytics_exact_count():
    """ultralytics/cfg/models/v8/yolov8.yaml: "YOLOv8n summary: 225 layers, 3157200 parameters"."""
    assert _model("yolov8_nano").parameters.si == 3_157_200


CNNS = [m for m in _catalog.records("models") if m.architecture == "cnn" and m.has("flops_per_inference")]


@pytest.mark.parametrize("model", CNNS, ids=lambda r: r.id)
def test_cnn_compute_is_plausible_for_its_parameters(model):
    """Each weight of a network whose layers are all convolutions or fully connected is used at
    least once per image (MACs >= parameters) and at most once per output position, of which
    there are no more than input pixels (MACs / parameters <= height x width)."""
    macs, params = _macs(model), model.parameters.si
    assert macs >= params, f"{model.id}: {macs:.3g} MACs for {params:.3g} parameters"
    if model.has("input_shape"):
        height, width = (int(v) for v in model.input_shape.split("x")[:2])
        assert macs / params <= height * width


@pytest.mark.parametrize(("model_id", "tokens"), [("vit_b_16", 197), ("vit_l_16", 197)])
def test_vit_compute_is_about_one_mac_per_parameter_per_token(model_id, tokens):
    """A ViT at 224x224 with 16x16 patches runs 196 patch tokens + 1 class token through every
    weight, so MACs ~ parameters x 197 (torchvision: 17.56 and 61.55 "GFLOPS", counted as
    multiply-adds); attention scores add a few percent."""
    model = _model(model_id)
    ratio = _macs(model) / (model.parameters.si * tokens)
    assert 1.0 <= ratio <= 1.10


def test_mobilenet_v2_width_multiplier_orders_size_and_compute():
    """tensorflow/models MobileNetV2 table at 224: 0.5 -> 1.95M / 97M MACs, 0.75 -> 2.61M /
    209M, 1.0 -> 3.47M / 300M. Compute scales about as width squared, parameters less (the
    1280-wide last layer and classifier do not shrink below width 1.0)."""
    ids = ["mobilenet_v2_alpha0_5", "mobilenet_v2_alpha0_75", "mobilenet_v2"]
    params = [_model(i).parameters.si for i in ids]
    macs = [_macs(_model(i)) for i in ids]
    assert params == sorted(params) and macs == sorted(macs)
    assert macs[0] / macs[2] == pytest.approx(0.5**2, rel=0.35)
    assert params[0] / params[2] > macs[0] / macs[2]


def test_every_new_convolutional_record_states_macs():
    """The reference tables (torchvision "GFLOPS", TensorFlow "MACs (M)") count multiply-adds."""
    for model_id in ["resnet18", "vgg16", "efficientnet_b0", "efficientnet_b4", "mobilenet_v1",
                     "mobilenet_v3_large", "mobilenet_v2_alpha0_5", "mobilenet_v2_alpha0_75", "vit_b_16", "vit_l_16"]:
        flops = _model(model_id).flops_per_inference
        assert flops.qualifiers["convention"] == "MAC" and flops.unit == "GMAC", model_id


def test_dlrm_embedding_tables_match_the_readme_size():
    """facebookresearch/dlrm torchrec_dlrm README: "Collective Size of Embedding Tables" 104.54
    for the 26 Criteo 1TB tables of dimension 128, i.e. fp32 parameters x 4 bytes in 10^9 bytes."""
    assert _model("dlrm_dcnv2").parameters.si * 4 == pytest.approx(104.54e9, rel=1e-3)


@pytest.mark.parametrize(
    ("model_id", "stated"),
    [("flux1_dev", 12e9), ("openvla_7b", 7.5e9), ("octo_base", 93e6)],
)
def test_non_transformer_records_carry_their_stated_size(model_id, stated):
    """FLUX.1 [dev] model card "12 billion parameter"; openvla README "all 7.5 billion
    parameters"; octo README "93M Params"."""
    assert _model(model_id).parameters.si == pytest.approx(stated)
