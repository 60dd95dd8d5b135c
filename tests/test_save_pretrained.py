"""save_pretrained writes what transformers loads, and the round trip is exact."""

import json
import os

import keras
import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import compare_outputs, random_inputs, torch_outputs
from tests.test_bert_parity import tiny_bert_config
from tests.tiny_models import tiny_model
from tfmodels.converters import saver
from tfmodels.layers import utils as layer_utils

CLASSES = ["BertModel", "BertForSequenceClassification", "BertForTokenClassification",
           "BertForQuestionAnswering", "BertForMaskedLM"]


def _tiny(class_name):
    config = tiny_bert_config(num_labels=2 if "Question" in class_name else 3).to_dict()
    return getattr(tfmodels, class_name).from_config(config)


@pytest.mark.parametrize("class_name", CLASSES)
def test_transformers_loads_what_we_save(class_name, tmp_path):
    model = _tiny(class_name)
    model.save_pretrained(tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    reference = torch_outputs(class_name, str(tmp_path), inputs)  # fails on missing/unexpected keys
    ours = {k: v.numpy() for k, v in model(inputs).items()}
    compare_outputs(ours, reference)
    reloaded = getattr(tfmodels, class_name).from_pretrained(tmp_path)
    for a, b in zip(model.weights, reloaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_transformers_reports_no_missing_keys(tmp_path):
    _tiny("BertForMaskedLM").save_pretrained(tmp_path)
    _, info = transformers.BertForMaskedLM.from_pretrained(str(tmp_path), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info


def test_trained_weights_reach_torch(tmp_path):
    model = _tiny("BertForSequenceClassification")
    inputs = random_inputs(type_vocab_size=3)
    before = model(inputs)["logits"].numpy()
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.fit({**inputs, "labels": np.array([0, 1, 2])}, epochs=1, batch_size=3, verbose=0)
    after = model(inputs)["logits"].numpy()
    assert np.abs(after - before).max() > 1e-3  # training changed the model
    model.save_pretrained(tmp_path)
    reference = torch_outputs("BertForSequenceClassification", str(tmp_path), inputs)
    assert np.abs(reference["logits"] - after).max() <= 1e-5


def test_config_json_is_huggingface(tmp_path):
    _tiny("BertForSequenceClassification").save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    assert "name" not in config and "trainable" not in config


def test_failed_save_leaves_existing_files_untouched(tmp_path, monkeypatch):
    model = _tiny("BertModel")
    model.save_pretrained(tmp_path)
    original = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = []

    def broken(array):  # the disk fills up after the header and a few tensors were written
        calls.append(1)
        if len(calls) > 3:
            raise OSError("disk full")
        return np.require(array, requirements="C")

    monkeypatch.setattr(saver, "_contiguous", broken)
    other = _tiny("BertModel")
    with pytest.raises(OSError, match="disk full"):
        other.save_pretrained(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == original  # no temp files, nothing replaced


# Every kind of transform: identity and `Linear` (BERT), `Conv1D` + `Split` (GPT-2), `FusedPart` over heads
# (DeBERTa v1's `in_proj`) and over inputs (ConvBERT), a 0-d tensor and `LeadingUnitAxes` (CLIP), buffers
# (Transformer-XL), `Permute` (XLNet, wav2vec 2.0's convolutions), `GroupedConv1x1` (SqueezeBERT).
BYTE_CLASSES = ["BertForMaskedLM", "GPT2LMHeadModel", "DebertaModel", "ConvBertModel", "CLIPModel",
                "TransfoXLModel", "XLNetModel", "Wav2Vec2Model", "SqueezeBertModel"]


def _assert_file_is_what_safetensors_writes(model, directory):
    from safetensors.numpy import save_file

    model.save_pretrained(directory)
    save_file(saver.hf_state_dict(model), directory / "reference.safetensors", metadata={"format": "pt"})
    assert (directory / "model.safetensors").read_bytes() == (directory / "reference.safetensors").read_bytes()


@pytest.mark.parametrize("class_name", BYTE_CLASSES)
def test_streamed_file_is_byte_identical_to_safetensors(class_name, tmp_path, monkeypatch):
    monkeypatch.setattr(layer_utils, "READ_BLOCK_BYTES", 1024)  # identity tables go in row blocks
    _assert_file_is_what_safetensors_writes(tiny_model(class_name), tmp_path)


@pytest.mark.slow
def test_every_family_streams_the_bytes_safetensors_writes(tmp_path, monkeypatch):
    from tests.tiny_models import one_class_per_family

    monkeypatch.setattr(layer_utils, "READ_BLOCK_BYTES", 1024)
    for class_name in one_class_per_family():
        (tmp_path / class_name).mkdir()
        _assert_file_is_what_safetensors_writes(tiny_model(class_name), tmp_path / class_name)


def test_bfloat16_model_saves_bf16_that_transformers_loads(tmp_path):
    from safetensors import safe_open

    model = tiny_model("BertModel", dtype="bfloat16")
    _assert_file_is_what_safetensors_writes(model, tmp_path)
    with safe_open(tmp_path / "model.safetensors", framework="np") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}
    state = transformers.BertModel.from_pretrained(str(tmp_path), dtype=torch.bfloat16).state_dict()
    for key, value in saver.hf_state_dict(model).items():
        assert state[key].dtype == torch.bfloat16, key
        np.testing.assert_array_equal(state[key].float().numpy(), value.astype(np.float32), err_msg=key)


def test_extra_config_fields_round_trip(tmp_path):
    config = tiny_bert_config().to_dict()
    config["my_custom_field"] = "kept"
    model = tfmodels.BertModel.from_config(config)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["my_custom_field"] == "kept"


def test_keras_weights_convert_round_trip(tmp_path):
    from tfmodels.converters import save_keras_weights

    model = _tiny("BertForTokenClassification")
    save_keras_weights(model, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.weights.h5"]
    reloaded = tfmodels.AutoModelForTokenClassification.from_pretrained(tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    np.testing.assert_array_equal(model(inputs)["logits"].numpy(), reloaded(inputs)["logits"].numpy())


def test_keras_get_config_round_trip():
    model = _tiny("BertForMultipleChoice")
    clone = tfmodels.BertForMultipleChoice.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert torch is not None
