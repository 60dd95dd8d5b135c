"""RoBERTa-family, ELECTRA, DistilBERT, ALBERT, Megatron-BERT, DPR: XLA equals eager,
dynamic-length graphs, SavedModel export, a fit() step and mixed precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.helpers import random_inputs
from tests.test_albert_parity import tiny_config as albert_config
from tests.test_distilbert_parity import tiny_config as distilbert_config
from tests.test_dpr_parity import tiny_config as dpr_config
from tests.test_electra_parity import tiny_config as electra_config
from tests.test_megatron_bert_parity import tiny_config as megatron_config
from tests.test_roberta_parity import padded_inputs
from tests.test_roberta_parity import tiny_config as roberta_config
from tests.test_mixed_precision import assert_close_to_float32

MODELS = {
    "RobertaForSequenceClassification": (roberta_config, 1),
    "XLMRobertaForMaskedLM": (lambda **kw: roberta_config("XLMRoberta", **kw), 1),
    "ElectraForPreTraining": (electra_config, 3),
    "DistilBertForSequenceClassification": (distilbert_config, 0),
    "AlbertForPreTraining": (lambda **kw: albert_config(num_hidden_layers=4, num_hidden_groups=2,
                                                        inner_group_num=2, **kw), 3),
    "MegatronBertForMaskedLM": (megatron_config, 3),
    "DPRContextEncoder": (lambda **kw: dpr_config(projection_dim=8, **kw), 3),
}


def _model_and_inputs(class_name):
    config_fn, type_vocab_size = MODELS[class_name]
    model = getattr(tfmodels, class_name).from_config(config_fn().to_dict())
    inputs = padded_inputs() if type_vocab_size == 1 else random_inputs(type_vocab_size=type_vocab_size)
    return model, {k: tf.constant(v, tf.int32) for k, v in inputs.items()}


@pytest.mark.parametrize("class_name", list(MODELS))
def test_xla_matches_eager(class_name):
    model, inputs = _model_and_inputs(class_name)
    eager = model(inputs, training=False)
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)(inputs)
    for name in eager:
        assert np.abs(eager[name].numpy() - compiled[name].numpy()).max() <= 1e-5, name


def test_roberta_dynamic_length_graph_checks_offset_limit():
    model = tfmodels.RobertaModel.from_config(roberta_config().to_dict())
    fn = tf.function(lambda ids: model({"input_ids": ids})["last_hidden_state"],
                     input_signature=[tf.TensorSpec([None, None], tf.int32)])
    assert fn(tf.fill((1, 18), 5)).shape == (1, 18, 32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 18 tokens"):
        fn(tf.fill((1, 19), 5))


@pytest.mark.slow
@pytest.mark.parametrize("class_name", ["RobertaForSequenceClassification", "DistilBertForSequenceClassification"])
def test_export_and_fit_step(class_name, tmp_path):
    model, inputs = _model_and_inputs(class_name)
    model.compile(optimizer="adam")
    model(inputs, training=False)  # builds the variables
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit({**inputs, "labels": tf.constant([0, 1, 2])}, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # Adam's first step moves every weight with a gradient by ~lr (1e-3).
    assert max(float(np.max(np.abs(np.asarray(w) - b))) for w, b in zip(model.trainable_weights, before)) >= 5e-4
    path = tfmodels.export_saved_model(model, tmp_path / "saved")
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    feed = {name: inputs.get(name, tf.zeros_like(inputs["input_ids"])) for name in serve.structured_input_signature[1]}
    served = serve(**feed)["logits"].numpy()
    np.testing.assert_allclose(served, model(inputs, training=False)["logits"].numpy(), atol=1e-5)


def test_mixed_bfloat16_forward():
    reference_model, inputs = _model_and_inputs("AlbertForPreTraining")
    reference = reference_model(inputs, training=False)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model, _ = _model_and_inputs("AlbertForPreTraining")
    model.build_from_dummy_inputs()
    model.set_weights(reference_model.get_weights())
    for name, value in model(inputs, training=False).items():
        assert_close_to_float32(value, reference[name], "mixed_bfloat16", name)
