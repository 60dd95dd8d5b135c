"""Bad input gets a clear error naming the problem and the fix."""

import json
import shutil
import sys

import numpy as np
import pytest

import tfmodels
from tests.helpers import hf_checkpoint, random_inputs
from tests.test_bert_parity import tiny_bert_config
from tfmodels.converters import CheckpointError, UnknownModelTypeError, WeightMismatchError


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return hf_checkpoint("BertModel", tiny_bert_config(), tmp_path_factory.mktemp("bert"))


def _copy(checkpoint, tmp_path):
    target = tmp_path / "ckpt"
    shutil.copytree(checkpoint, target)
    return target


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tfmodels.AutoModel.from_pretrained(str(tmp_path / "nope" / "model"))


def test_file_instead_of_directory(checkpoint):
    with pytest.raises(FileNotFoundError, match="is a file; expected a checkpoint directory"):
        tfmodels.AutoModel.from_pretrained(f"{checkpoint}/config.json")


def test_missing_config(checkpoint, tmp_path):
    target = _copy(checkpoint, tmp_path)
    (target / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        tfmodels.BertModel.from_pretrained(target)


def test_missing_weights(checkpoint, tmp_path):
    target = _copy(checkpoint, tmp_path)
    (target / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="No weights found"):
        tfmodels.BertModel.from_pretrained(target)


def test_truncated_safetensors(checkpoint, tmp_path):
    target = _copy(checkpoint, tmp_path)
    data = (target / "model.safetensors").read_bytes()
    (target / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        tfmodels.BertModel.from_pretrained(target)


def test_corrupt_safetensors(checkpoint, tmp_path):
    target = _copy(checkpoint, tmp_path)
    (target / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        tfmodels.BertModel.from_pretrained(target)


def test_unknown_model_type(checkpoint, tmp_path):
    target = _copy(checkpoint, tmp_path)
    config = json.loads((target / "config.json").read_text())
    config["model_type"] = "my-own-transformer"
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnknownModelTypeError, match="does not support model_type='my-own-transformer'.*bert"):
        tfmodels.AutoModel.from_pretrained(target)


def test_model_type_of_another_architecture(checkpoint, tmp_path):
    target = _copy(checkpoint, tmp_path)
    config = json.loads((target / "config.json").read_text())
    config["model_type"] = "gpt2"
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="model_type='gpt2'.*Use tfmodels.AutoModel"):
        tfmodels.BertModel.from_pretrained(target)


def test_config_disagrees_with_weights(checkpoint, tmp_path):
    target = _copy(checkpoint, tmp_path)
    config = json.loads((target / "config.json").read_text())
    config["intermediate_size"] = 40
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightMismatchError) as error:
        tfmodels.BertModel.from_pretrained(target)
    message = str(error.value)
    assert "encoder.layer.0.intermediate.dense.weight: checkpoint (37, 32) vs model (40, 32)" in message
    assert "encoder.layer.1.output.dense.weight: checkpoint (32, 37) vs model (32, 40)" in message


def test_missing_and_unexpected_keys_are_named(tmp_path):
    from safetensors.numpy import load_file, save_file

    path = hf_checkpoint("BertModel", tiny_bert_config(), tmp_path / "src")
    tensors = load_file(f"{path}/model.safetensors")
    tensors["encoder.layer.0.attention.self.extra.weight"] = tensors.pop("encoder.layer.0.attention.self.key.weight")
    save_file(tensors, f"{path}/model.safetensors", metadata={"format": "pt"})
    with pytest.raises(WeightMismatchError) as error:
        tfmodels.BertModel.from_pretrained(path)
    assert error.value.missing == ["encoder.layer.0.attention.self.key.weight"]
    assert error.value.unexpected == ["encoder.layer.0.attention.self.extra.weight"]


def test_head_of_another_size_needs_the_flag(tmp_path, caplog):
    path = hf_checkpoint("BertForSequenceClassification", tiny_bert_config(num_labels=3), tmp_path)
    with pytest.raises(WeightMismatchError, match="classifier.weight: checkpoint \\(3, 32\\) vs model \\(5, 32\\)"):
        tfmodels.BertForSequenceClassification.from_pretrained(path, num_labels=5)
    with caplog.at_level("WARNING", logger="tfmodels"):
        model = tfmodels.BertForSequenceClassification.from_pretrained(
            path, num_labels=5, ignore_mismatched_sizes=True
        )
    assert "classifier.weight (checkpoint (3, 32) vs model (5, 32))" in caplog.text
    assert model(random_inputs())["logits"].shape == (3, 5)


def test_sequence_longer_than_max_position_embeddings(checkpoint):
    model = tfmodels.BertModel.from_pretrained(checkpoint)
    with pytest.raises(ValueError, match="at most max_position_embeddings=64 tokens.*truncation=True"):
        model({"input_ids": np.ones((1, 65), dtype="int32")})


def test_float_input_ids(checkpoint):
    model = tfmodels.BertModel.from_pretrained(checkpoint)
    with pytest.raises(TypeError, match="`input_ids` must hold integer token ids"):
        model({"input_ids": np.ones((1, 5), dtype="float32")})


def test_unknown_input_name(checkpoint):
    model = tfmodels.BertModel.from_pretrained(checkpoint)
    with pytest.raises(TypeError, match="unexpected inputs \\['input_idz'\\]"):
        model({"input_ids": np.ones((1, 5), dtype="int32"), "input_idz": np.ones((1, 5), dtype="int32")})


def test_bin_without_torch(tmp_path, monkeypatch):
    from tests.helpers import hf_bin_checkpoint

    path = hf_bin_checkpoint("BertModel", tiny_bert_config(), tmp_path)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(ImportError, match='pip install "tfmodels\\[torch\\]"'):
        tfmodels.BertModel.from_pretrained(path)


def test_invalid_num_labels_for_question_answering():
    with pytest.raises(ValueError, match="needs num_labels=2"):
        tfmodels.BertForQuestionAnswering(num_labels=3, **tiny_bert_config().to_dict())


def test_hub_id_missing_from_offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="not in the Hugging Face cache"):
        tfmodels.AutoModel.from_pretrained("some-org/some-model", cache_dir=str(tmp_path))
