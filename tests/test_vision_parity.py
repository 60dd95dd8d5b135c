"""ViT, DeiT and CLIP against the PyTorch reference: every output of every class, other resolutions,
checkpoints written back, a training step, and the errors for bad pixel inputs.

Tiny configs: 30x30 images in 6x6 patches (a 5x5 grid), CLIP's towers of different widths and
depths, text rows right-padded with their eos token at different positions.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import _to_numpy, assert_save_round_trip, compare_outputs, hf_checkpoint, torch_outputs
from tests.tiny_models import TINY_CONFIGS

VISION = TINY_CONFIGS["vit"]
CLIP_TEXT = TINY_CONFIGS["clip_text_model"]
CLIP_VISION = TINY_CONFIGS["clip_vision_model"]
EOS = CLIP_TEXT["eos_token_id"]

CONFIGS = {
    "vit": lambda: transformers.ViTConfig(**VISION),
    "deit": lambda: transformers.DeiTConfig(**VISION),
    "clip": lambda: transformers.CLIPConfig(text_config=CLIP_TEXT, vision_config=CLIP_VISION, projection_dim=24),
    "clip_text_model": lambda: transformers.CLIPTextConfig(**CLIP_TEXT),
    "clip_vision_model": lambda: transformers.CLIPVisionConfig(**CLIP_VISION),
}
CLASSES = {
    "ViTModel": "vit", "ViTForImageClassification": "vit", "ViTForMaskedImageModeling": "vit",
    "DeiTModel": "deit", "DeiTForImageClassification": "deit", "DeiTForImageClassificationWithTeacher": "deit",
    "CLIPModel": "clip", "CLIPTextModel": "clip_text_model", "CLIPTextModelWithProjection": "clip_text_model",
    "CLIPVisionModel": "clip_vision_model", "CLIPVisionModelWithProjection": "clip_vision_model",
}


def pixels(batch=3, height=30, width=30, seed=0):
    return np.random.RandomState(seed).randn(batch, 3, height, width).astype("float32")


def text_inputs():
    """Three rows: full length, and two right-padded ones with eos inside (`pad_token_id` after it)."""
    ids = np.random.RandomState(1).randint(2, EOS - 1, (3, 9)).astype("int64")
    mask = np.ones_like(ids)
    ids[0, 8] = EOS
    ids[1, 4], ids[1, 5:], mask[1, 5:] = EOS, 1, 0
    ids[2, 1], ids[2, 2:], mask[2, 2:] = EOS, 1, 0
    return {"input_ids": ids, "attention_mask": mask}


def inputs_for(class_name):
    if class_name.startswith("CLIPText"):
        return text_inputs()
    inputs = {"pixel_values": pixels()}
    if class_name == "CLIPModel":
        inputs.update(text_inputs())
    if class_name.endswith("ForImageClassification"):
        inputs["labels"] = np.array([0, 2, 1])
    if class_name.endswith("ForMaskedImageModeling"):
        inputs["bool_masked_pos"] = np.random.RandomState(2).rand(3, 25) > 0.5
    return inputs


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """One transformers checkpoint per class, made on first use."""
    made = {}

    def get(class_name):
        if class_name not in made:
            directory = tmp_path_factory.mktemp(class_name)
            made[class_name] = hf_checkpoint(class_name, CONFIGS[CLASSES[class_name]](), directory)
        return made[class_name]

    return get


def assert_class_parity(class_name, path, inputs, **options):
    call = dict(output_hidden_states=True, output_attentions=True, **options)
    reference = torch_outputs(class_name, path, inputs, **call)
    model = getattr(tfmodels, class_name).from_pretrained(path)
    return compare_outputs(_to_numpy(model(inputs, training=False, **call)), reference)


@pytest.mark.parametrize("class_name", sorted(CLASSES))
def test_parity_every_output(class_name, checkpoints):
    options = {"return_loss": True} if class_name == "CLIPModel" else {}
    diffs = assert_class_parity(class_name, checkpoints(class_name), inputs_for(class_name), **options)
    if class_name == "CLIPModel":
        assert {"loss", "text_model_output", "vision_model_output"} <= set(diffs)


@pytest.mark.parametrize("class_name, height, width", [
    ("ViTModel", 42, 36),  # upscaled, non-square grid (7 x 6)
    pytest.param("DeiTForImageClassificationWithTeacher", 24, 24, marks=pytest.mark.slow),  # two special tokens
    pytest.param("CLIPVisionModel", 36, 48, marks=pytest.mark.slow),
])
def test_interpolate_pos_encoding_at_another_size(class_name, height, width, checkpoints):
    inputs = {"pixel_values": pixels(2, height, width)}
    assert_class_parity(class_name, checkpoints(class_name), inputs, interpolate_pos_encoding=True)


def test_save_pretrained_round_trips_through_transformers(checkpoints, tmp_path):
    inputs = inputs_for("ViTForImageClassification")
    assert_save_round_trip("ViTForImageClassification", checkpoints("ViTForImageClassification"), inputs,
                           tmp_path / "vit")
    diffs = assert_save_round_trip("CLIPModel", checkpoints("CLIPModel"), inputs_for("CLIPModel"), tmp_path / "clip")
    assert "text_model_output" in diffs
    assert transformers.CLIPConfig.from_pretrained(tmp_path / "clip").text_config.eos_token_id == EOS


def test_auto_registries_hold_the_vision_classes():
    assert tfmodels.AutoModelForImageClassification.model_class("vit") is tfmodels.ViTForImageClassification
    assert tfmodels.AutoModelForImageClassification.model_class("deit") is tfmodels.DeiTForImageClassification
    for model_type, cls in (("vit", tfmodels.ViTModel), ("deit", tfmodels.DeiTModel), ("clip", tfmodels.CLIPModel),
                            ("clip_text_model", tfmodels.CLIPTextModel),
                            ("clip_vision_model", tfmodels.CLIPVisionModel)):
        assert tfmodels.AutoModel.model_class(model_type) is cls


@pytest.mark.slow
def test_auto_classes_load_the_vision_models(checkpoints):
    model = tfmodels.AutoModelForImageClassification.from_pretrained(checkpoints("DeiTForImageClassification"))
    assert type(model) is tfmodels.DeiTForImageClassification
    assert type(tfmodels.AutoModel.from_pretrained(checkpoints("CLIPModel"))) is tfmodels.CLIPModel
    assert type(tfmodels.AutoModel.from_pretrained(checkpoints("CLIPTextModel"))) is tfmodels.CLIPTextModel


def test_channels_last_pixel_values_give_the_same_outputs(checkpoints):
    path = checkpoints("ViTModel")
    inputs = pixels(2)
    first = tfmodels.ViTModel.from_pretrained(path)
    last = tfmodels.ViTModel.from_pretrained(path, data_format="channels_last")
    expected = first({"pixel_values": inputs})["last_hidden_state"].numpy()
    got = last({"pixel_values": inputs.transpose(0, 2, 3, 1)})["last_hidden_state"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert "data_format" not in last.hf_config()


@pytest.mark.parametrize("compile_options", [
    {"run_eagerly": True},  # the train step without graph tracing (tracing costs ~15 s here)
    pytest.param({}, marks=pytest.mark.slow),  # Keras' default: a compiled (XLA) train step
])
def test_fit_step_trains_the_image_classifier(compile_options):
    model = tfmodels.ViTForImageClassification(**VISION).build_from_dummy_inputs()
    data = {"pixel_values": pixels(4), "labels": np.array([0, 1, 2, 1])}
    model.compile(optimizer=keras.optimizers.Adam(1e-2), **compile_options)
    before = model.classifier.kernel.numpy().copy()
    history = model.fit(data, batch_size=4, epochs=1, verbose=0)
    loss = history.history["loss"][0]
    assert np.isfinite(loss) and loss > 0
    assert not np.allclose(model.classifier.kernel.numpy(), before)


@pytest.mark.slow
def test_xla_forward_equals_eager(checkpoints):
    model = tfmodels.ViTForImageClassification.from_pretrained(checkpoints("ViTForImageClassification"))
    inputs = {"pixel_values": tf.constant(pixels(2, 42, 36))}
    eager = model(inputs, interpolate_pos_encoding=True)["logits"].numpy()
    compiled = tf.function(lambda x: model(x, interpolate_pos_encoding=True)["logits"], jit_compile=True)
    np.testing.assert_allclose(compiled(inputs).numpy(), eager, atol=1e-5)


def test_bad_pixel_values_are_refused_clearly():
    model = tfmodels.ViTModel(**VISION).build_from_dummy_inputs()
    with pytest.raises(TypeError, match=r"`pixel_values` must be floating point.*uint8"):
        model({"pixel_values": np.zeros((1, 3, 30, 30), dtype="uint8")})
    with pytest.raises(ValueError, match=r"Input image size \(36\*30\) doesn't match.*interpolate_pos_encoding=True"):
        model({"pixel_values": pixels(1, 36, 30)})
    with pytest.raises(ValueError, match=r"pixel_values has 4 channels but the model takes num_channels=3"):
        model({"pixel_values": np.zeros((1, 4, 30, 30), dtype="float32")})
    with pytest.raises(ValueError, match=r"ViTModel needs `pixel_values`"):
        model({"bool_masked_pos": np.zeros((1, 25), dtype="int32")})
    with pytest.raises(TypeError, match=r"unexpected inputs \['input_ids'\]"):
        model({"pixel_values": pixels(1), "input_ids": np.zeros((1, 4), dtype="int32")})


@pytest.mark.slow
def test_vit_without_qkv_bias_and_clip_text_with_the_legacy_eos_rule(tmp_path):
    path = hf_checkpoint("ViTModel", transformers.ViTConfig(**VISION, qkv_bias=False), tmp_path / "vit")
    assert_class_parity("ViTModel", path, {"pixel_values": pixels()})
    # eos_token_id == 2: pooled at the highest token id (configs from before transformers PR #24773).
    config = transformers.CLIPTextConfig(**{**CLIP_TEXT, "eos_token_id": 2})
    path = hf_checkpoint("CLIPTextModel", config, tmp_path / "text")
    assert_class_parity("CLIPTextModel", path, text_inputs())


@pytest.mark.slow
def test_fit_step_trains_clip_on_its_contrastive_loss():
    model = tfmodels.CLIPModel(text_config=CLIP_TEXT, vision_config=CLIP_VISION, projection_dim=24)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit({**text_inputs(), "pixel_values": pixels()}, batch_size=3, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


@pytest.mark.slow
def test_saved_model_takes_float_pixel_values(tmp_path):
    model = tfmodels.ViTForImageClassification(**VISION).build_from_dummy_inputs()
    tfmodels.export_saved_model(model, tmp_path / "vit")
    loaded = tf.saved_model.load(str(tmp_path / "vit"))
    serve = loaded.signatures["serving_default"]
    spec = serve.structured_input_signature[1]["pixel_values"]
    assert spec.dtype == tf.float32 and spec.shape.as_list() == [None, 3, 30, 30]
    inputs = pixels(2)
    np.testing.assert_allclose(serve(pixel_values=tf.constant(inputs))["logits"].numpy(),
                               model({"pixel_values": inputs})["logits"].numpy(), atol=1e-6)
    assert "classify" in loaded.signatures


@pytest.mark.slow
def test_mixed_bfloat16_keeps_losses_in_float32():
    x = pixels(2, 36, 42)
    model = tfmodels.ViTForImageClassification(**VISION, dtype="mixed_bfloat16").build_from_dummy_inputs()
    outputs = model({"pixel_values": x, "labels": np.array([0, 1])}, interpolate_pos_encoding=True)
    assert outputs["logits"].dtype == tf.bfloat16 and outputs["loss"].dtype == tf.float32
    clip = tfmodels.CLIPModel(**TINY_CONFIGS["clip"], dtype="mixed_bfloat16").build_from_dummy_inputs()
    outputs = clip({"pixel_values": x[:, :, :30, :30], "input_ids": np.array([[5, EOS], [7, EOS]])}, return_loss=True)
    assert outputs["logits_per_image"].dtype == tf.bfloat16 and outputs["loss"].dtype == tf.float32
    assert np.isfinite(outputs["loss"].numpy())
