"""DeBERTa, RoFormer, MPNet and ConvBERT backbones: XLA == eager, mixed precision, fit() step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.helpers import random_inputs

COMMON = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
              max_position_embeddings=64)
MODELS = {
    "DebertaV2Model": dict(relative_attention=True, pos_att_type="p2c|c2p", position_buckets=8, share_att_key=True,
                           norm_rel_ebd="layer_norm", conv_kernel_size=3, type_vocab_size=0),
    "DebertaModel": dict(relative_attention=True, pos_att_type=["c2p", "p2c"], max_relative_positions=6),
    "RoFormerModel": dict(rotary_value=True, embedding_size=24),
    "MPNetModel": dict(max_position_embeddings=160),
    "ConvBertModel": dict(intermediate_size=36, embedding_size=24, conv_kernel_size=3, num_groups=2),
}


def build(name, dtype="float32"):
    return getattr(tfmodels, name)(**{**COMMON, **MODELS[name]}, dtype=dtype)


def inputs_for(name):
    inputs = random_inputs(type_vocab_size=0)
    return {k: tf.constant(v, tf.int32) for k, v in inputs.items()}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_xla_matches_eager_and_mixed_precision_runs(name):
    model = build(name)
    inputs = inputs_for(name)
    eager = model(inputs, training=False)["last_hidden_state"].numpy()
    xla = tf.function(lambda x: model(x, training=False)["last_hidden_state"], jit_compile=True)(inputs).numpy()
    np.testing.assert_allclose(xla, eager, atol=1e-5)

    mixed = build(name, dtype="mixed_bfloat16")
    mixed(inputs, training=False)
    mixed.set_weights(model.get_weights())
    out = mixed(inputs, training=False)["last_hidden_state"]
    assert out.dtype == tf.bfloat16
    valid = inputs["attention_mask"].numpy().astype(bool)
    assert np.abs(tf.cast(out, tf.float32).numpy() - eager)[valid].max() < 0.25


@pytest.mark.parametrize("name", ["DebertaV2ForSequenceClassification", "ConvBertForSequenceClassification"])
def test_fit_step_with_standard_loss(name):
    base = name.replace("ForSequenceClassification", "Model")
    model = getattr(tfmodels, name)(**{**COMMON, **MODELS[base]}, num_labels=3)
    inputs = {k: v.numpy() for k, v in inputs_for(base).items()}
    inputs["labels"] = np.array([0, 1, 2])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.build_from_dummy_inputs()
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(inputs, epochs=2, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # Adam's first step moves every weight with a gradient by ~lr.
    assert max(float(np.max(np.abs(np.asarray(w) - b))) for w, b in zip(model.trainable_weights, before)) >= 5e-4
