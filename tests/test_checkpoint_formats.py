"""Every supported checkpoint layout loads to the same model."""

import os
import shutil

import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import assert_parity, hf_bin_checkpoint, hf_checkpoint, random_inputs
from tests.test_bert_parity import tiny_bert_config


def test_sharded_safetensors(tmp_path):
    torch.manual_seed(0)
    model = transformers.BertForMaskedLM(tiny_bert_config())
    model.save_pretrained(str(tmp_path), max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    assert_parity("BertForMaskedLM", str(tmp_path), random_inputs(type_vocab_size=3))


def test_pytorch_bin(tmp_path):
    path = hf_bin_checkpoint("BertForSequenceClassification", tiny_bert_config(), tmp_path)
    assert os.listdir(path) == ["config.json", "pytorch_model.bin"] or sorted(os.listdir(path)) == [
        "config.json", "pytorch_model.bin"]
    assert_parity("BertForSequenceClassification", path, random_inputs(type_vocab_size=3))


def test_sharded_pytorch_bin(tmp_path):
    path = hf_bin_checkpoint("BertModel", tiny_bert_config(), tmp_path, shards=3)
    assert_parity("BertModel", path, random_inputs(type_vocab_size=3))


def test_bfloat16_checkpoint_loads_into_float32(tmp_path):
    torch.manual_seed(0)
    model = transformers.BertModel(tiny_bert_config()).to(torch.bfloat16)
    model.save_pretrained(str(tmp_path))
    ours = tfmodels.BertModel.from_pretrained(tmp_path)
    assert ours.weights[0].dtype == "float32"
    expected = model.embeddings.word_embeddings.weight.detach().float().numpy()
    np.testing.assert_array_equal(ours.embeddings.word_embeddings.embeddings.numpy(), expected)


def test_hub_id_from_offline_cache(tmp_path, monkeypatch):
    """A Hub id resolves through huggingface_hub's cache layout with HF_HUB_OFFLINE=1."""
    source = hf_checkpoint("BertModel", tiny_bert_config(), tmp_path / "source")
    cache = tmp_path / "hub"
    repo = cache / "models--tfmodels-test--tiny-bert"
    commit = "0" * 40
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name in os.listdir(source):
        shutil.copy(os.path.join(source, name), snapshot / name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = tfmodels.AutoModel.from_pretrained("tfmodels-test/tiny-bert", cache_dir=str(cache))
    reference = tfmodels.BertModel.from_pretrained(source)
    inputs = random_inputs(type_vocab_size=3)
    np.testing.assert_array_equal(model(inputs)["last_hidden_state"], reference(inputs)["last_hidden_state"])


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_int32_and_int64_inputs(tmp_path, dtype):
    path = hf_checkpoint("BertModel", tiny_bert_config(), tmp_path)
    model = tfmodels.BertModel.from_pretrained(path)
    inputs = {k: v.astype(dtype) for k, v in random_inputs(type_vocab_size=3).items()}
    assert model(inputs)["last_hidden_state"].shape == (3, 9, 32)
