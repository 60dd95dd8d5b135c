"""Keras-format directories (`tfmodels convert --format keras`) load like safetensors directories.

Any head from any other head's directory, with the same strict mismatch
report and the `ignore_mismatched_sizes=True` route. Oracle: `transformers`
loading the safetensors checkpoint the Keras directory was converted from.
"""

import json
import logging

import numpy as np
import pytest

import tfmodels
from tests.helpers import compare_outputs, hf_checkpoint, random_inputs, torch_outputs
from tests.test_bert_parity import tiny_bert_config
from tests.tiny_models import loading_objects, one_class_per_family, tiny_model
from tfmodels.converters import save_keras_weights


def _dirs(tmp_path, class_name, **config):
    """`(safetensors dir, Keras dir)` of one random `transformers.<class_name>`."""
    hf_dir = hf_checkpoint(class_name, tiny_bert_config(**config), tmp_path / "hf")
    save_keras_weights(getattr(tfmodels, class_name).from_pretrained(hf_dir), tmp_path / "keras")
    return hf_dir, tmp_path / "keras"


def _ours(model, inputs):
    return {k: v.numpy() for k, v in model(inputs, training=False).items()}


def test_auto_model_loads_a_head_directory(tmp_path, caplog):
    hf_dir, keras_dir = _dirs(tmp_path, "BertForSequenceClassification")
    inputs = random_inputs(type_vocab_size=3)
    with caplog.at_level(logging.WARNING, logger="tfmodels"):
        model = tfmodels.AutoModel.from_pretrained(keras_dir)
    assert type(model) is tfmodels.BertModel
    compare_outputs(_ours(model, inputs), torch_outputs("BertModel", hf_dir, inputs))
    assert "classifier.weight" in caplog.text  # other heads' weights are named, as for safetensors


def test_head_from_a_base_directory_warns_about_the_new_head(tmp_path, caplog):
    hf_dir, keras_dir = _dirs(tmp_path, "BertModel")
    inputs = random_inputs(type_vocab_size=3)
    with caplog.at_level(logging.WARNING, logger="tfmodels"):
        model = tfmodels.AutoModelForSequenceClassification.from_pretrained(keras_dir, num_labels=4)
    assert "newly initialised" in caplog.text and "classifier.weight" in caplog.text
    assert tuple(model(inputs)["logits"].shape) == (3, 4)
    backbone = {k: v.numpy() for k, v in model.bert(inputs, training=False).items()}
    compare_outputs(backbone, torch_outputs("BertModel", hf_dir, inputs))


def test_another_head_from_a_head_directory(tmp_path):
    hf_dir, keras_dir = _dirs(tmp_path, "BertForMaskedLM")
    inputs = random_inputs(type_vocab_size=3)
    model = tfmodels.BertForTokenClassification.from_pretrained(keras_dir)
    backbone = {k: v.numpy() for k, v in model.bert(inputs, training=False).items()}
    compare_outputs(backbone, torch_outputs("BertModel", hf_dir, inputs), skip=("pooler_output",))


def test_num_labels_mismatch_reports_like_safetensors(tmp_path):
    hf_dir, keras_dir = _dirs(tmp_path, "BertForSequenceClassification")
    errors = {}
    for name, path in (("safetensors", hf_dir), ("keras", keras_dir)):
        with pytest.raises(tfmodels.WeightMismatchError) as info:
            tfmodels.AutoModelForSequenceClassification.from_pretrained(path, num_labels=5)
        errors[name] = str(info.value).replace(str(path), "<dir>")
    assert "classifier.weight: checkpoint (3, 32) vs model (5, 32)" in errors["keras"]
    assert "ignore_mismatched_sizes=True" in errors["keras"]
    assert errors["keras"].replace("model.weights.h5", "<file>") == errors["safetensors"].replace(
        "model.safetensors", "<file>")


def test_num_labels_mismatch_with_ignore_mismatched_sizes(tmp_path, caplog):
    hf_dir, keras_dir = _dirs(tmp_path, "BertForSequenceClassification")
    inputs = random_inputs(type_vocab_size=3)
    with caplog.at_level(logging.WARNING, logger="tfmodels"):
        model = tfmodels.AutoModelForSequenceClassification.from_pretrained(
            keras_dir, num_labels=5, ignore_mismatched_sizes=True)
    assert "classifier.weight (checkpoint (3, 32) vs model (5, 32))" in caplog.text
    assert tuple(model(inputs)["logits"].shape) == (3, 5)
    backbone = {k: v.numpy() for k, v in model.bert(inputs, training=False).items()}
    compare_outputs(backbone, torch_outputs("BertModel", hf_dir, inputs))


def test_same_class_round_trip_is_exact(tmp_path):
    hf_dir, keras_dir = _dirs(tmp_path, "BertForQuestionAnswering", num_labels=2)
    inputs = random_inputs(type_vocab_size=3)
    direct = tfmodels.BertForQuestionAnswering.from_pretrained(hf_dir)
    reloaded = tfmodels.AutoModelForQuestionAnswering.from_pretrained(keras_dir)
    for a, b in zip(direct.weights, reloaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_keras_directory_without_architectures_is_refused(tmp_path):
    _, keras_dir = _dirs(tmp_path, "BertModel")
    config = json.loads((keras_dir / "config.json").read_text())
    del config["architectures"]
    (keras_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(tfmodels.CheckpointError, match=r"config.json names no tfmodels class.*\"architectures\""):
        tfmodels.BertModel.from_pretrained(keras_dir)


# Fused q/k/v parts (DeBERTa v1), split c_attn (GPT-2), constant buffers (Transformer-XL) by default.
_DEFAULT_FAMILIES = ("DebertaForMaskedLM", "GPT2DoubleHeadsModel", "TransfoXLLMHeadModel")


@pytest.mark.parametrize("class_name", [
    name if name in _DEFAULT_FAMILIES else pytest.param(name, marks=pytest.mark.slow)
    for name in one_class_per_family()
])
def test_keras_directory_round_trip_every_family(class_name, tmp_path):
    # The weight table read both ways (fused and split tensors, buffers, tied weights) for each family.
    model = tiny_model(class_name)
    save_keras_weights(model, tmp_path)
    reloaded = type(model).from_pretrained(tmp_path, **loading_objects(model.model_type))
    assert len(reloaded.weights) == len(model.weights)
    for a, b in zip(model.weights, reloaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_keras_file_that_does_not_match_its_config_is_refused(tmp_path):
    _, keras_dir = _dirs(tmp_path, "BertForSequenceClassification")
    config = json.loads((keras_dir / "config.json").read_text())
    config.update(num_labels=5, id2label={str(i): f"L{i}" for i in range(5)},
                  label2id={f"L{i}": i for i in range(5)})
    (keras_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(tfmodels.CheckpointError,
                       match="does not hold the weights of BertForSequenceClassification as built from its config.json"):
        tfmodels.AutoModelForSequenceClassification.from_pretrained(keras_dir)
