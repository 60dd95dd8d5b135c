"""Training encoder-decoder LMs (T5, BART): `prepare_tf_dataset` for seq2seq, `fit()` on labels given as `y`,
the XLA train step against the graph step, `mixed_bfloat16` and T5's float32 islands under `mixed_float16`.

The datasets are `(inputs, {"labels": ...})`, as `prepare_tf_dataset` makes them: the model never sees the
labels in its call, so the train step must derive the decoder inputs from `y` (before, T5 raised and BART
silently trained on `input_ids` shifted right).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tfmodels.training.data import prepare_tf_dataset

T5 = dict(vocab_size=61, d_model=20, d_kv=7, d_ff=23, num_layers=1, num_decoder_layers=2, num_heads=3,
          relative_attention_num_buckets=8, relative_attention_max_distance=12, feed_forward_proj="gated-gelu",
          tie_word_embeddings=True, dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0)
BART = dict(vocab_size=61, d_model=24, encoder_layers=1, decoder_layers=2, encoder_attention_heads=2,
            decoder_attention_heads=3, encoder_ffn_dim=20, decoder_ffn_dim=30, max_position_embeddings=64,
            dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, pad_token_id=1, bos_token_id=0,
            eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=None)
MODELS = {"t5": (tfmodels.T5ForConditionalGeneration, T5), "bart": (tfmodels.BartForConditionalGeneration, BART)}


def _features(num_examples=4, seed=0):
    """Sources of 3..11 tokens, targets of 2..8 (longer or shorter than their source), unpadded."""
    rng = np.random.RandomState(seed)
    sources, targets = rng.randint(3, 12, num_examples), rng.randint(2, 9, num_examples)
    return {"input_ids": [list(rng.randint(3, 61, n)) for n in sources],
            "attention_mask": [[1] * n for n in sources],
            "labels": [list(rng.randint(3, 61, n)) for n in targets]}


def _model(name, weights=None, policy=None):
    cls, config = MODELS[name]
    if policy is not None:
        keras.mixed_precision.set_global_policy(policy)
    try:
        model = cls(**config).build_from_dummy_inputs()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if weights is not None:
        model.set_weights(weights)
    return model


def _initial_weights(name):
    keras.utils.set_random_seed(1)
    return _model(name).get_weights()


def _dataset(model):
    return prepare_tf_dataset(_features(), model=model, batch_size=4, pad_to_multiple_of=8, drop_remainder=True)


def _without_decoder_inputs(dataset):
    """The batches without the `decoder_input_ids` `prepare_tf_dataset` adds: the step derives them from `y`."""
    return dataset.map(lambda x, y: ({k: v for k, v in x.items() if k != "decoder_input_ids"}, y))


def _fit(model, jit_compile=False, epochs=2, run_eagerly=False):
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=jit_compile, run_eagerly=run_eagerly)
    return model.fit(_without_decoder_inputs(_dataset(model)), epochs=epochs, verbose=0).history["loss"]


def _reference_loss(name, weights):
    """The float32 model's loss on the batch, labels given in the call (the path every parity test checks)."""
    model = _model(name, weights)
    inputs, targets = next(iter(_without_decoder_inputs(_dataset(model))))
    return float(model({**inputs, **targets}, training=False)["loss"])


def test_prepare_tf_dataset_pads_sources_and_targets_separately():
    features = {"input_ids": [[5, 6, 7], [8]], "attention_mask": [[1, 1, 1], [1]],
                "labels": [[9, 10], [11, 12, 13, 14, 15]]}
    model = _model("t5")
    inputs, targets = next(iter(prepare_tf_dataset(features, model=model, batch_size=2, pad_to_multiple_of=4)))
    np.testing.assert_array_equal(inputs["input_ids"], [[5, 6, 7, 0], [8, 0, 0, 0]])
    np.testing.assert_array_equal(inputs["attention_mask"], [[1, 1, 1, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(targets["labels"], [[9, 10, -100, -100, -100, -100, -100, -100],
                                                      [11, 12, 13, 14, 15, -100, -100, -100]])
    # T5: decoder_start_token_id 0 first, -100 -> pad 0 (transformers' DataCollatorForSeq2Seq adds them too)
    np.testing.assert_array_equal(inputs["decoder_input_ids"], [[0, 9, 10, 0, 0, 0, 0, 0],
                                                                [0, 11, 12, 13, 14, 15, 0, 0]])
    _, fixed = next(iter(prepare_tf_dataset(features, batch_size=2, max_target_length=6, max_length=3)))
    assert fixed["labels"].shape == (2, 6)
    with pytest.raises(ValueError, match="max_target_length=4"):
        prepare_tf_dataset(features, batch_size=2, max_target_length=4)
    with pytest.raises(ValueError, match="seq2seq=True needs `labels`"):
        prepare_tf_dataset({"input_ids": [[5, 6]], "labels": [1]}, seq2seq=True)


def test_xla_train_step_matches_graph_step_with_labels_as_y():
    weights = _initial_weights("t5")
    graph_model, xla_model = _model("t5", weights), _model("t5", weights)
    graph_losses, xla_losses = _fit(graph_model), _fit(xla_model, jit_compile=True)
    assert xla_model.jit_compile is True
    # The first epoch's loss is the loss at the initial weights: the labels' own decoder inputs were used.
    assert abs(graph_losses[0] - _reference_loss("t5", weights)) <= 1e-5
    assert graph_losses[1] < graph_losses[0]
    np.testing.assert_allclose(xla_losses, graph_losses, atol=1e-5)
    for a, b in zip(xla_model.get_weights(), graph_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


# The default suite runs the steps eagerly (the same `train_step`, no trace); compiled: `-m slow`.
@pytest.mark.parametrize("name,jit_compile", [("t5", None), ("bart", None),
                                              pytest.param("t5", True, marks=pytest.mark.slow),
                                              pytest.param("bart", False, marks=pytest.mark.slow)])
def test_mixed_bfloat16_fit_trains_close_to_float32(name, jit_compile):
    weights = _initial_weights(name)
    model = _model(name, weights, policy="mixed_bfloat16")
    losses = _fit(model, jit_compile=bool(jit_compile), run_eagerly=jit_compile is None)
    assert abs(losses[0] - _reference_loss(name, weights)) <= 4e-2 * abs(losses[0])
    assert losses[1] < losses[0]
    assert all(w.dtype == "float32" for w in model.trainable_weights)


def test_bart_fit_with_labels_as_y_uses_the_shifted_labels():
    weights = _initial_weights("bart")
    model = _model("bart", weights)
    model.compile(optimizer="sgd", run_eagerly=True)  # the test step itself; compiled: the XLA tests
    loss = model.evaluate(_without_decoder_inputs(_dataset(model)), verbose=0, return_dict=True)["loss"]
    assert abs(loss - _reference_loss("bart", weights)) <= 1e-5


def test_t5_mixed_float16_keeps_wo_and_the_residual_stream_in_float32():
    weights = _initial_weights("t5")
    model = _model("t5", weights, policy="mixed_float16")
    for block in model.encoder_blocks + model.decoder_blocks:
        wo = block.feed_forward.output_dense
        assert (wo.compute_dtype, wo.kernel.dtype) == ("float32", "float32")
        assert block.feed_forward.intermediate_dense.compute_dtype == "float16"
    hidden = model.encoder_blocks[0](tf.cast(model.shared(tf.constant([[5, 6, 7]])), "float16"))
    assert hidden.dtype == tf.float32
    inputs, targets = next(iter(_dataset(model)))
    outputs = model({**inputs, **targets}, training=False)
    assert outputs["loss"].dtype == tf.float32
    assert abs(float(outputs["loss"]) - _reference_loss("t5", weights)) <= 5e-3 * abs(float(outputs["loss"]))


@pytest.mark.slow  # a float16 step with loss scaling: ~30 s more on a loaded 2-core machine
def test_t5_mixed_float16_fit_trains_close_to_float32():
    weights = _initial_weights("t5")
    model = _model("t5", weights, policy="mixed_float16")
    losses = _fit(model)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert abs(losses[0] - _reference_loss("t5", weights)) <= 5e-3 * abs(losses[0])
    assert losses[1] < losses[0]


@pytest.mark.slow  # one more XLA compile of a train step: ~60 s on a loaded 2-core machine
def test_bart_xla_train_step_matches_graph_step():
    weights = _initial_weights("bart")
    graph_model, xla_model = _model("bart", weights), _model("bart", weights)
    np.testing.assert_allclose(_fit(xla_model, jit_compile=True), _fit(graph_model), atol=1e-5)
    for a, b in zip(xla_model.get_weights(), graph_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
