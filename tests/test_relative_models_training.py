"""Funnel / XLNet / Transformer-XL models: `from_config(get_config())` round trip and one `fit()` step
on the task loss (compile without `loss`): the step reports the loss of the weights it started from and
moves the weights. (That loss equals the `transformers` one: the families' parity tests.)"""

import numpy as np
import pytest

import tfmodels

FUNNEL = dict(vocab_size=50, block_sizes=[1, 1], d_model=16, n_head=2, d_head=8, d_inner=20, num_decoder_layers=1,
              hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
XLNET = dict(vocab_size=50, d_model=16, n_layer=1, n_head=2, d_inner=20, dropout=0.0)
TRANSFO_XL = dict(vocab_size=50, cutoffs=[20], d_model=16, d_embed=16, n_head=2, d_head=8, d_inner=20, n_layer=1,
                  div_val=2, mem_len=3, dropout=0.0, dropatt=0.0)

CASES = [
    ("FunnelForSequenceClassification", dict(FUNNEL, num_labels=3), "class"),
    ("FunnelForPreTraining", FUNNEL, "binary"),
    ("XLNetLMHeadModel", XLNET, "tokens"),
    ("XLNetForTokenClassification", dict(XLNET, num_labels=3), "token_class"),
    ("TransfoXLLMHeadModel", TRANSFO_XL, "tokens"),
]


def _labels(kind, input_ids):
    rng = np.random.RandomState(0)
    return {
        "class": rng.randint(0, 3, (input_ids.shape[0],)),
        "binary": rng.randint(0, 2, input_ids.shape),
        "tokens": input_ids,
        "token_class": rng.randint(0, 3, input_ids.shape),
    }[kind]


@pytest.mark.parametrize("class_name,config,kind", CASES, ids=[c[0] for c in CASES])
def test_config_round_trip_and_fit(class_name, config, kind):
    cls = getattr(tfmodels, class_name)
    model = cls(**config).build_from_dummy_inputs()
    clone = cls.from_config(model.get_config()).build_from_dummy_inputs()
    clone.set_weights(model.get_weights())
    inputs = model.dummy_inputs(2, 6)
    inputs["input_ids"] = np.random.RandomState(1).randint(1, 50, (2, 6)).astype("int32")
    ours, theirs = model(inputs, training=False), clone(inputs, training=False)
    key = next(k for k in ours if k != "mems")
    np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(theirs[key]))
    batch = {**inputs, "labels": _labels(kind, inputs["input_ids"])}
    expected = float(model(batch, training=False)["loss"])
    before = [np.array(w) for w in model.trainable_weights]
    model.compile(optimizer="sgd")
    history = model.fit(batch, epochs=1, batch_size=2, verbose=0)
    assert abs(history.history["loss"][0] - expected) <= 1e-5, (history.history["loss"], expected)
    moved = max(float(np.max(np.abs(np.asarray(w) - b))) for w, b in zip(model.trainable_weights, before))
    assert moved > 1e-4, moved
