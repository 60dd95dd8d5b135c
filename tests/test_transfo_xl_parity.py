"""Transformer-XL against fixtures made with transformers 4.35.2 (`scripts/make_transfo_xl_fixtures.py`).

Three consecutive segments per fixture, the memory carried from one call to
the next on our side exactly as the reference did; every output of every
segment must match (max abs diff <= 1e-5).
"""

import json
from pathlib import Path

import numpy as np
import pytest

import tfmodels
from tests.helpers import TOLERANCE, _to_numpy
from tests.test_mixed_precision import assert_close_to_float32

FIXTURES = Path(__file__).parent / "fixtures" / "transfo_xl"
NAMES = ["adaptive_div2", "div1_proj", "no_clusters"]


def _reference(name):
    return np.load(FIXTURES / name / "reference.npz")


def _run_segments(model, reference, **call_kwargs):
    """Yields (segment, our outputs) with our own memory carried between segments."""
    mems = None
    for segment in range(3):
        inputs = {"input_ids": reference[f"seg{segment}.input_ids"]}
        if mems is not None:
            inputs["mems"] = mems
        outputs = model(inputs, training=False, **call_kwargs)
        mems = outputs.get("mems")
        yield segment, {k: _to_numpy(v) for k, v in outputs.items()}


def _diff(ours, reference, prefix, name):
    if isinstance(ours, tuple):
        count = sum(key.startswith(f"{prefix}{name}.") for key in reference.files)
        assert len(ours) == count, f"{name}: {len(ours)} tensors vs reference {count}"
        return max(float(np.abs(a - reference[f"{prefix}{name}.{i}"]).max()) for i, a in enumerate(ours))
    return float(np.abs(ours - reference[prefix + name]).max())


@pytest.mark.parametrize("name", NAMES)
def test_transfo_xl_lm_head_multi_segment_parity(name):
    reference = _reference(name)
    model = tfmodels.TransfoXLLMHeadModel.from_pretrained(FIXTURES / name)
    for segment, outputs in _run_segments(model, reference, output_hidden_states=True, output_attentions=True):
        assert set(outputs) == {"logits", "mems", "hidden_states", "attentions"}
        diffs = {k: _diff(v, reference, f"seg{segment}.", k) for k, v in outputs.items()}
        assert max(diffs.values()) <= TOLERANCE, (segment, diffs)


@pytest.mark.parametrize("name", NAMES)
def test_transfo_xl_model_multi_segment_parity(name):
    reference = _reference(name)
    model = tfmodels.TransfoXLModel.from_pretrained(FIXTURES / name)  # backbone out of a head checkpoint
    for segment, outputs in _run_segments(model, reference):
        for key in ("last_hidden_state", "mems"):
            assert _diff(outputs[key], reference, f"seg{segment}.", key) <= TOLERANCE, (segment, key)


@pytest.mark.parametrize("name", NAMES)
def test_transfo_xl_loss_parity(name):
    reference = _reference(name)
    model = tfmodels.TransfoXLLMHeadModel.from_pretrained(FIXTURES / name)
    ids = reference["seg0.input_ids"]
    loss = model({"input_ids": ids, "labels": ids}, training=False)["loss"]
    assert abs(float(loss) - float(reference["loss"])) <= TOLERANCE


def _safetensors(path):
    from safetensors.numpy import load_file

    return load_file(str(Path(path) / "model.safetensors"))


@pytest.mark.parametrize("name", NAMES)
def test_transfo_xl_save_pretrained_round_trip(name, tmp_path):
    """transformers 5 has no Transformer-XL: save -> reload in tfmodels gives identical
    outputs on every segment, and the file has the fixture checkpoint's keys, shapes
    and values (fused `qkv_net` merged back, `pos_emb.inv_freq` written)."""
    model = tfmodels.TransfoXLLMHeadModel.from_pretrained(FIXTURES / name)
    model.save_pretrained(tmp_path)
    reloaded = tfmodels.TransfoXLLMHeadModel.from_pretrained(tmp_path)
    reference = _reference(name)
    for (segment, ours), (_, again) in zip(_run_segments(model, reference), _run_segments(reloaded, reference)):
        assert set(again) == set(ours), segment
        for key in ours:
            np.testing.assert_array_equal(np.asarray(again[key]), np.asarray(ours[key]), err_msg=f"{segment} {key}")

    fixture, saved = _safetensors(FIXTURES / name), _safetensors(tmp_path)
    assert sorted(saved) == sorted(fixture)
    for key, value in fixture.items():
        assert saved[key].shape == value.shape and saved[key].dtype == value.dtype, key
        if key.endswith("inv_freq"):  # recomputed, not carried
            np.testing.assert_allclose(saved[key], value, rtol=1e-6, err_msg=key)
        else:
            np.testing.assert_array_equal(saved[key], value, err_msg=key)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "transfo-xl" and config["architectures"] == ["TransfoXLLMHeadModel"]
    assert not {"name", "value", "supported", "unsupported", "add_pooling_layer"} & set(config)


def test_transfo_xl_base_model_save_pretrained(tmp_path):
    model = tfmodels.TransfoXLModel.from_pretrained(FIXTURES / "no_clusters")
    model.save_pretrained(tmp_path)
    fixture = {k[len("transformer."):]: v.shape for k, v in _safetensors(FIXTURES / "no_clusters").items()
               if k.startswith("transformer.")}
    assert {k: v.shape for k, v in _safetensors(tmp_path).items()} == fixture
    ids = _reference("no_clusters")["seg0.input_ids"]
    again = tfmodels.TransfoXLModel.from_pretrained(tmp_path)
    np.testing.assert_array_equal(np.asarray(again(ids)["last_hidden_state"]),
                                  np.asarray(model(ids)["last_hidden_state"]))


def test_transfo_xl_xla_mixed_precision_and_auto():
    import keras
    import tensorflow as tf

    path = FIXTURES / "adaptive_div2"
    assert type(tfmodels.AutoModelForCausalLM.from_pretrained(path)) is tfmodels.TransfoXLLMHeadModel
    model = tfmodels.TransfoXLLMHeadModel.from_pretrained(path)
    ids = tf.constant(_reference("adaptive_div2")["seg0.input_ids"], tf.int32)
    eager = model({"input_ids": ids}, training=False)["logits"]
    compiled = tf.function(lambda x: model({"input_ids": x}, training=False)["logits"], jit_compile=True)(ids)
    np.testing.assert_allclose(compiled.numpy(), eager.numpy(), atol=1e-5)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    mixed = tfmodels.TransfoXLLMHeadModel.from_pretrained(path)
    assert_close_to_float32(mixed({"input_ids": ids}, training=False)["logits"], eager, "mixed_bfloat16")


def test_transfo_xl_unsupported_options():
    with pytest.raises(ValueError, match="pre_lnorm"):
        tfmodels.TransfoXLModel(pre_lnorm=True)


def test_transfo_xl_serving_function_dynamic_shapes():
    import tensorflow as tf

    from tfmodels.export.saved_model import make_serving_function

    reference = _reference("adaptive_div2")
    model = tfmodels.TransfoXLLMHeadModel.from_pretrained(FIXTURES / "adaptive_div2")
    serve = make_serving_function(model)  # traced over (None, None) int32 inputs
    logits = serve(tf.constant(reference["seg0.input_ids"], tf.int32))["logits"]
    assert float(np.abs(logits.numpy() - reference["seg0.logits"]).max()) <= TOLERANCE
