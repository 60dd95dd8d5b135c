"""`ModelOutput` (attribute access on outputs) and `PretrainedConfig` / `AutoConfig`."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import hf_checkpoint, random_inputs

CONFIG = dict(vocab_size=99, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
              max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bert")
    hf_checkpoint("BertForSequenceClassification", transformers.BertConfig(**CONFIG, num_labels=3), directory)
    return directory


@pytest.fixture(scope="module")
def model(bert_dir):
    return tfmodels.AutoModelForSequenceClassification.from_pretrained(bert_dir)


def test_outputs_have_attribute_and_index_access(model):
    inputs = random_inputs(vocab_size=99)
    outputs = model(inputs, output_hidden_states=True)
    assert isinstance(outputs, tfmodels.ModelOutput) and isinstance(outputs, dict)
    assert outputs.logits is outputs["logits"]
    assert outputs[0] is outputs["logits"] and len(outputs.hidden_states) == 3
    with pytest.raises(AttributeError, match="Fields present: \\['logits', 'hidden_states'\\]"):
        outputs.attentions
    as_tuple = model(inputs, return_dict=False)
    assert isinstance(as_tuple, tuple)
    np.testing.assert_array_equal(as_tuple[0], outputs.logits)
    with_loss = model({**inputs, "labels": np.array([0, 1, 2])})
    assert list(with_loss) == ["loss", "logits"] and with_loss[0] is with_loss.loss


def test_outputs_in_tf_function_xla_fit_and_predict(model):
    inputs = random_inputs(vocab_size=99)
    eager = model(inputs).logits
    compiled = tf.function(lambda batch: model(batch).logits, jit_compile=True)(inputs)
    np.testing.assert_allclose(compiled, eager, atol=1e-5)
    # Keras flattens the outputs as a dict (registered optree node): map_structure keeps the type.
    doubled = keras.tree.map_structure(lambda t: t * 2, model(inputs))
    assert isinstance(doubled, tfmodels.ModelOutput)
    np.testing.assert_allclose(doubled.logits, eager * 2, rtol=1e-6)
    predicted = model.predict(inputs, verbose=0)
    assert isinstance(predicted, tfmodels.ModelOutput) and predicted.logits.shape == (3, 3)


def test_config_object_attribute_access_and_round_trip(model, bert_dir, tmp_path):
    config = model.config
    assert isinstance(config, tfmodels.PretrainedConfig)
    assert config.num_labels == 3
    assert config.hidden_size == 16 and config["id2label"] == config.id2label  # backbone field via the head
    assert config.model_type == "bert"
    with pytest.raises(AttributeError, match="no field 'not_a_field'"):
        config.not_a_field
    full = json.loads(config.to_json_string())
    assert full["architectures"] == ["BertForSequenceClassification"] and full["num_attention_heads"] == 2
    config.save_pretrained(tmp_path)
    reference = transformers.AutoConfig.from_pretrained(tmp_path)  # the oracle reads what we wrote
    assert reference.hidden_size == 16 and len(reference.id2label) == 3
    loaded = tfmodels.AutoConfig.from_pretrained(bert_dir, hidden_dropout_prob=0.25)
    assert loaded.model_type == "bert" and loaded.hidden_dropout_prob == 0.25
    rebuilt = tfmodels.AutoModelForSequenceClassification.from_config(model.config)
    assert type(rebuilt) is type(model) and rebuilt.config.hidden_size == 16
    assert tfmodels.AutoConfig.for_model("bert", hidden_size=8).hidden_size == 8
    with pytest.raises(tfmodels.UnknownModelTypeError):
        tfmodels.AutoConfig.for_model("not-a-model")


def test_exported_signature_returns_a_plain_dict(model, tmp_path):
    tfmodels.export_saved_model(model, tmp_path / "saved")
    code = (
        "import tensorflow as tf; m = tf.saved_model.load(%r); "
        "out = m.signatures['serving_default'](input_ids=tf.ones((2, 5), tf.int32), "
        "attention_mask=tf.ones((2, 5), tf.int32), token_type_ids=tf.zeros((2, 5), tf.int32)); "
        "print(type(out).__name__, sorted(out))" % str(tmp_path / "saved")
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("dict ['logits']")
