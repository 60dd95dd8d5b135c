"""Mixed precision: `mixed_bfloat16` and `mixed_float16` run, train and stay close to float32.

Variables stay float32; matmuls run in the compute dtype; softmax, LayerNorm
and the task losses run in float32 (`masked_softmax`, Keras' layer norm, the
losses in `tfmodels.layers.losses`). Tolerances are relative to the largest
reference value, a few units of the format's precision after a 2-layer model:
bfloat16 has 8 significant bits (2**-8 ~ 4e-3), float16 11 (2**-11 ~ 5e-4).
"""

import keras
import numpy as np
import pytest

import tfmodels
from tfmodels.training.data import prepare_tf_dataset

TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, type_vocab_size=2)
POLICIES = {"mixed_bfloat16": ("bfloat16", 4e-2), "mixed_float16": ("float16", 5e-3)}
LABELS = {
    "BertModel": {},
    "BertForSequenceClassification": {"labels": np.array([0, 2, 1])},
    "BertForTokenClassification": {"labels": np.tile(np.array([0, 1, -100, 2, 1, 0, 2, 1, -100]), (3, 1))},
    "BertForQuestionAnswering": {"start_positions": np.array([1, 2, 0]), "end_positions": np.array([3, 4, 8])},
    "BertForMaskedLM": {"labels": np.tile(np.array([5, -100, 7, 9, -100, 3, 2, 1, 4]), (3, 1))},
    "BertForMultipleChoice": {"labels": np.array([1, 0, 1])},
}


def assert_close_to_float32(value, reference, policy, what=""):
    """`value` (computed under `policy`) is within the policy's bound of the float32 `reference`."""
    reference = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(reference, "float32")))
    value = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(value, "float32")))
    scale = max(1.0, float(np.max(np.abs(reference))))
    diff = float(np.max(np.abs(value - reference)))
    assert diff <= POLICIES[policy][1] * scale, f"{what} {policy}: max abs diff {diff} (scale {scale})"


def _inputs(class_name):
    rng = np.random.RandomState(0)
    inputs = {"input_ids": rng.randint(1, 99, (3, 9)).astype("int32"),
              "attention_mask": np.ones((3, 9), "int32"),
              "token_type_ids": rng.randint(0, 2, (3, 9)).astype("int32")}
    inputs["attention_mask"][1, 5:] = 0
    inputs["attention_mask"][2, 2:] = 0
    if class_name == "BertForMultipleChoice":
        inputs = {k: np.stack([v, v[::-1]], axis=1) for k, v in inputs.items()}  # (batch, 2 choices, seq)
    return inputs


def _flat(outputs):
    flat = {}
    for name, value in outputs.items():
        for i, tensor in enumerate(value if isinstance(value, tuple) else (value,)):
            flat[f"{name}.{i}"] = tensor
    return flat


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    paths = {}
    for class_name in LABELS:
        keras.utils.set_random_seed(0)
        extra = {"num_labels": 3} if class_name in ("BertForSequenceClassification", "BertForTokenClassification") else {}
        model = getattr(tfmodels, class_name)(**TINY, **extra)
        model.build_from_dummy_inputs()
        paths[class_name] = str(tmp_path_factory.mktemp(class_name))
        model.save_pretrained(paths[class_name])
    return paths


@pytest.fixture(scope="module")
def float32_outputs(checkpoints):
    return {name: _flat(getattr(tfmodels, name).from_pretrained(path)(
        {**_inputs(name), **LABELS[name]}, output_hidden_states=True)) for name, path in checkpoints.items()}


@pytest.fixture(scope="module")
def float32_fit(checkpoints):
    keras.mixed_precision.set_global_policy("float32")
    model, losses = _fit(checkpoints["BertForSequenceClassification"], "float32")
    return [np.asarray(w) for w in model.trainable_weights], losses


@pytest.fixture(scope="module")
def float32_losses(float32_fit):
    return float32_fit[1]


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("class_name", sorted(LABELS))
def test_outputs_close_to_float32(checkpoints, float32_outputs, class_name, policy):
    compute_dtype, tolerance = POLICIES[policy]
    cls = getattr(tfmodels, class_name)
    inputs = {**_inputs(class_name), **LABELS[class_name]}
    reference = float32_outputs[class_name]
    model = cls.from_pretrained(checkpoints[class_name], dtype=policy)
    assert model.dtype_policy.name == policy
    assert all(v.dtype == "float32" for v in model.weights)
    outputs = _flat(model(inputs, output_hidden_states=True))
    assert sorted(outputs) == sorted(reference)
    for name, value in outputs.items():
        expected = np.asarray(reference[name])
        if name.startswith("loss"):
            assert value.dtype == "float32", name
        else:
            assert value.dtype == compute_dtype, (name, value.dtype)
        scale = max(1.0, float(np.max(np.abs(expected))))
        diff = float(np.max(np.abs(np.asarray(value, "float32") - expected)))
        assert diff <= tolerance * scale, f"{class_name} {policy} {name}: max abs diff {diff} (scale {scale})"


def _dataset():
    rng = np.random.RandomState(1)
    lengths = rng.randint(3, 12, 16)
    features = {"input_ids": [list(rng.randint(1, 99, n)) for n in lengths],
                "token_type_ids": [[0] * n for n in lengths], "labels": list(rng.randint(0, 3, 16))}
    return prepare_tf_dataset(features, batch_size=8, pad_to_multiple_of=16, drop_remainder=True)


LEARNING_RATE, STEPS = 1e-3, 4  # 2 epochs of 2 batches


def _fit(checkpoint, policy, jit_compile=False):
    keras.mixed_precision.set_global_policy(policy)  # the global-policy path: no dtype argument
    keras.utils.set_random_seed(0)
    model = tfmodels.BertForSequenceClassification.from_pretrained(
        checkpoint, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model.compile(optimizer=keras.optimizers.AdamW(LEARNING_RATE), jit_compile=jit_compile)
    history = model.fit(_dataset(), epochs=2, verbose=0)
    return model, np.asarray(history.history["loss"])


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_fit_close_to_float32(checkpoints, float32_fit, policy):
    float32_weights, float32_losses = float32_fit
    model, losses = _fit(checkpoints["BertForSequenceClassification"], policy)
    assert model.dtype_policy.name == policy
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    assert all(v.dtype == "float32" for v in model.trainable_weights)
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(losses, float32_losses, atol=POLICIES[policy][1] * 2)
    keras.mixed_precision.set_global_policy("float32")
    initial = tfmodels.BertForSequenceClassification.from_pretrained(checkpoints["BertForSequenceClassification"])
    moved = max(float(np.max(np.abs(np.asarray(w) - np.asarray(w0))))
                for w, w0 in zip(model.trainable_weights, initial.trainable_weights))
    # Adam's step is lr * m / (sqrt(v) + eps), at most lr per weight for dense gradients (plus the tiny AdamW
    # decay): the first step moves every weight with a gradient by ~lr, and STEPS steps in another precision end
    # at most 2 * lr * STEPS away from the float32 run. (Embedding tables get sparse gradients whose repeated rows'
    # squares are summed, so their steps are not bounded by lr: left out of the bound.)
    assert moved >= 0.5 * LEARNING_RATE, moved
    drift = max(float(np.max(np.abs(np.asarray(w) - w32))) for w, w32 in zip(model.trainable_weights, float32_weights)
                if not w.path.endswith("embeddings"))
    assert drift <= 2 * LEARNING_RATE * STEPS * 1.01, drift


@pytest.mark.slow  # one XLA compile of the bfloat16 step: ~35 s on a loaded 2-core machine
def test_xla_fit_bfloat16(checkpoints, float32_losses):
    """The TPU configuration: bfloat16 compute, XLA-compiled train step."""
    model, losses = _fit(checkpoints["BertForSequenceClassification"], "mixed_bfloat16", jit_compile=True)
    assert model.jit_compile is True
    np.testing.assert_allclose(losses, float32_losses, atol=POLICIES["mixed_bfloat16"][1] * 2)


def test_bfloat16_variables_compute_what_mixed_bfloat16_computes(checkpoints):
    """Inference with bfloat16 variables (`dtype="bfloat16"`, no per-call kernel casts) gives mixed_bfloat16's
    states exactly: mixed precision casts each kernel to bfloat16 before its matmul, and norms and softmax run in
    float32 under both policies."""
    path = checkpoints["BertModel"]
    inputs = _inputs("BertModel")
    mixed = tfmodels.BertModel.from_pretrained(path, dtype="mixed_bfloat16")(inputs, output_hidden_states=True)
    pure_model = tfmodels.BertModel.from_pretrained(path, dtype="bfloat16")
    assert pure_model.layers[0].weights[0].dtype == "bfloat16"
    pure = pure_model(inputs, output_hidden_states=True)
    for name in ("last_hidden_state", "pooler_output"):
        np.testing.assert_array_equal(np.asarray(keras.ops.cast(pure[name], "float32")),
                                      np.asarray(keras.ops.cast(mixed[name], "float32")), err_msg=name)
