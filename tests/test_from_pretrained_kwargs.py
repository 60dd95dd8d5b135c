"""`from_pretrained` keywords: Hugging Face's loading options are honoured or refused by name,
config fields override `config.json`, and anything else is a `TypeError`."""

import json
import os
import shutil

import huggingface_hub
import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import TOLERANCE, hf_checkpoint, random_inputs, torch_outputs
from tests.test_bert_parity import tiny_bert_config

COMMIT = "1" * 40


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return hf_checkpoint("BertForSequenceClassification", tiny_bert_config(),
                         tmp_path_factory.mktemp("bert-classifier"))


def _hub_cache(root, source, repo="tfmodels-test/tiny-bert", revision="main", subfolder=None):
    """A huggingface_hub cache holding `source` as `repo` at `revision` (optionally in `subfolder`)."""
    repo_dir = root / f"models--{repo.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / COMMIT / (subfolder or "")
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / revision).write_text(COMMIT)
    for name in os.listdir(source):
        shutil.copy(os.path.join(source, name), snapshot / name)
    return root


def _saved_config(model, directory):
    model.save_pretrained(directory)
    return json.loads((directory / "config.json").read_text())


def test_from_pt_is_accepted_and_not_stored(checkpoint, tmp_path):
    model = tfmodels.BertForSequenceClassification.from_pretrained(checkpoint, from_pt=True)
    assert "from_pt" not in _saved_config(model, tmp_path)


def test_output_loading_info(checkpoint, tmp_path):
    model, info = tfmodels.BertForTokenClassification.from_pretrained(checkpoint, output_loading_info=True)
    assert isinstance(model, tfmodels.BertForTokenClassification)
    assert set(info) == {"missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"}
    _, reference = transformers.BertForTokenClassification.from_pretrained(checkpoint, output_loading_info=True)
    assert set(info["unexpected_keys"]) >= set(reference["unexpected_keys"])
    assert "output_loading_info" not in _saved_config(model, tmp_path)


def test_output_loading_info_lists_reinitialised_heads(checkpoint):
    _, info = tfmodels.BertForSequenceClassification.from_pretrained(
        checkpoint, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True)
    assert ("classifier.weight", (3, 32), (5, 32)) in info["mismatched_keys"]
    assert "classifier.weight" in info["missing_keys"]


@pytest.mark.parametrize("kind", ["dict", "transformers config", "path"])
def test_config_argument_replaces_config_json(kind, checkpoint, tmp_path):
    """`config=` builds from another config (here: an extra label, so the classifier is re-initialised)."""
    reference = tiny_bert_config(num_labels=4)
    if kind == "dict":
        config = {**reference.to_dict(), "model_type": "bert"}
    elif kind == "path":
        reference.save_pretrained(str(tmp_path))
        config = tmp_path / "config.json"
    else:
        config = reference
    model = tfmodels.AutoModelForSequenceClassification.from_pretrained(
        checkpoint, config=config, ignore_mismatched_sizes=True)
    assert model(random_inputs(type_vocab_size=3))["logits"].shape == (3, 4)


def test_config_argument_of_another_kind_is_a_type_error(checkpoint):
    with pytest.raises(TypeError, match="config must be a dict.*Received: config of type int"):
        tfmodels.BertModel.from_pretrained(checkpoint, config=3)


@pytest.mark.parametrize("argument,value,variable_dtype", [
    ("torch_dtype", "float16", "float16"),
    ("torch_dtype", torch.bfloat16, "bfloat16"),
    ("dtype", torch.float16, "float16"),
    ("dtype", "mixed_bfloat16", "float32"),
    ("dtype", "auto", "float32"),  # config.json records float32
])
def test_dtype_arguments(argument, value, variable_dtype, checkpoint, tmp_path):
    model = tfmodels.BertForSequenceClassification.from_pretrained(checkpoint, **{argument: value})
    assert {v.dtype for v in model.weights} == {variable_dtype}
    inputs = random_inputs(type_vocab_size=3)
    logits = np.asarray(model(inputs)["logits"], dtype="float32")
    reference = torch_outputs("BertForSequenceClassification", checkpoint, inputs)["logits"]
    # 16-bit computation agrees with the float32 reference to a few 16-bit ulps of the logits' scale (~1).
    bound = TOLERANCE if value == "auto" else 0.05
    assert np.abs(logits - reference).max() <= bound
    saved = _saved_config(model, tmp_path)
    assert argument not in saved or saved[argument] in ("float32", "float16", "bfloat16"), saved


def test_conflicting_dtypes_are_a_type_error(checkpoint):
    with pytest.raises(TypeError, match="Pass one of dtype and torch_dtype"):
        tfmodels.BertModel.from_pretrained(checkpoint, dtype="float16", torch_dtype="bfloat16")


def test_unknown_dtype_is_a_value_error(checkpoint):
    with pytest.raises(ValueError, match="No Keras dtype policy for dtype='int7'"):
        tfmodels.BertModel.from_pretrained(checkpoint, dtype="int7")


def test_trust_remote_code_is_refused(checkpoint):
    with pytest.raises(ValueError, match=r"trust_remote_code=True\) is not supported: tfmodels never runs code"):
        tfmodels.AutoModel.from_pretrained(checkpoint, trust_remote_code=True)
    tfmodels.AutoModel.from_pretrained(checkpoint, trust_remote_code=False)


def test_unknown_keyword_is_a_type_error(checkpoint):
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['lod_in_8bit', 'revison'\]"):
        tfmodels.BertModel.from_pretrained(checkpoint, revison="main", lod_in_8bit=True)


def test_config_fields_still_override(checkpoint, tmp_path):
    model = tfmodels.BertForSequenceClassification.from_pretrained(checkpoint, hidden_dropout_prob=0.25)
    assert _saved_config(model, tmp_path)["hidden_dropout_prob"] == 0.25


def test_subfolder_of_a_local_directory(checkpoint, tmp_path):
    shutil.copytree(checkpoint, tmp_path / "repo" / "encoder")
    model = tfmodels.AutoModel.from_pretrained(tmp_path / "repo", subfolder="encoder")
    assert isinstance(model, tfmodels.BertModel)
    with pytest.raises(FileNotFoundError, match="has no subfolder 'decoder'"):
        tfmodels.AutoModel.from_pretrained(tmp_path / "repo", subfolder="decoder")


def test_offline_cache_with_revision_and_subfolder(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = _hub_cache(tmp_path / "hub", checkpoint, revision="v1", subfolder="model")
    model = tfmodels.AutoModelForSequenceClassification.from_pretrained(
        "tfmodels-test/tiny-bert", cache_dir=str(cache), revision="v1", subfolder="model")
    inputs = random_inputs(type_vocab_size=3)
    reference = tfmodels.BertForSequenceClassification.from_pretrained(checkpoint)
    np.testing.assert_array_equal(model(inputs)["logits"], reference(inputs)["logits"])
    with pytest.raises(FileNotFoundError, match="not in the Hugging Face cache"):
        tfmodels.AutoModel.from_pretrained("tfmodels-test/tiny-bert", cache_dir=str(cache), revision="v2")


def test_local_files_only_uses_the_cache(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    cache = _hub_cache(tmp_path / "hub", checkpoint)
    model = tfmodels.BertModel.from_pretrained("tfmodels-test/tiny-bert", cache_dir=str(cache), local_files_only=True)
    assert isinstance(model, tfmodels.BertModel)


def test_hub_options_reach_huggingface_hub(checkpoint, tmp_path, monkeypatch):
    """`token`, `force_download`, `revision`, `cache_dir` are passed to `snapshot_download` as given."""
    calls = []

    def snapshot_download(**kwargs):
        calls.append(kwargs)
        return checkpoint

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    tfmodels.AutoModel.from_pretrained("tfmodels-test/tiny-bert", token="hf_secret", force_download=True,
                                       revision="abc", cache_dir=str(tmp_path), local_files_only=False)
    assert calls and all(c["token"] == "hf_secret" and c["force_download"] is True and c["revision"] == "abc"
                         and c["cache_dir"] == str(tmp_path) and c["local_files_only"] is False for c in calls)
