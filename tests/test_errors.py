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
    with pytest.raises(ValueError, match=r"BertModel accepts at most 64 tokens per sequence \(its position table "
                                         r"has 64 rows\)\. Truncate the input.*truncation=True.*Received: sequence length 65\."):
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


# -- token ids outside the embedding table (issue 10 §4) ----------------------------------------------------------

@pytest.fixture(scope="module")
def bert(checkpoint):
    return tfmodels.BertModel.from_pretrained(checkpoint)


BAD_IDS = np.array([[1, 2, 3, 4], [5, 6, 99, 7]], dtype="int32")  # vocab_size=99


def test_input_id_too_large_names_id_position_and_vocab_size(bert):
    with pytest.raises(ValueError, match=r"`input_ids` must hold ids in \[0, vocab_size=99\).*"
                                         r"Received: input_ids\[1, 2\] = 99"):
        bert({"input_ids": BAD_IDS})


def test_negative_input_id(bert):
    with pytest.raises(ValueError, match=r"vocab_size=99.*Received: input_ids\[0, 1\] = -3"):
        bert({"input_ids": np.array([[1, -3, 2]], dtype="int64")})


def test_token_type_id_out_of_range(bert):
    with pytest.raises(ValueError, match=r"`token_type_ids` must hold ids in \[0, type_vocab_size=3\).*"
                                         r"token_type_ids\[0, 2\] = 3"):
        bert({"input_ids": np.ones((1, 4), "int32"), "token_type_ids": np.array([[0, 1, 3, 0]], "int32")})


def test_gpt2_input_id_too_large():
    model = tfmodels.GPT2Model(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=16)
    with pytest.raises(ValueError, match=r"vocab_size=50.*input_ids\[0, 1\] = 50"):
        model({"input_ids": np.array([[1, 50]], "int32")})


def test_bad_id_in_a_graph_raises_before_the_lookup(bert):
    import tensorflow as tf

    serve = tf.function(lambda ids: bert({"input_ids": ids})["last_hidden_state"])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"`input_ids` must hold ids in \[0, vocab_size=99\).*\[1 2\] \[id:\] \[99\]"):
        serve(tf.constant(BAD_IDS))


def test_bad_id_in_predict(bert):
    import tensorflow as tf

    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`input_ids` must hold ids in \[0, vocab_size=99\)"):
        bert.predict({"input_ids": BAD_IDS}, verbose=0)


def test_bad_id_under_xla_gives_nan_not_a_plausible_output(bert):
    import tensorflow as tf

    out = tf.function(lambda ids: bert({"input_ids": ids})["last_hidden_state"], jit_compile=True)(BAD_IDS)
    assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()


def test_bad_id_in_an_exported_saved_model(bert, tmp_path):
    import tensorflow as tf

    serve = tf.saved_model.load(str(tfmodels.export_saved_model(bert, tmp_path / "sm"))).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"vocab_size=99.*\[1 2\] \[id:\] \[99\]"):
        serve(input_ids=tf.constant(BAD_IDS), attention_mask=tf.ones_like(BAD_IDS),
              token_type_ids=tf.zeros_like(BAD_IDS))


# -- shapes and config values (issue 10 §4) --------------------------------------------------------------------------

def test_one_dimensional_input_ids(bert):
    with pytest.raises(ValueError, match=r"expects `input_ids` of rank 2, shape \(batch, seq_len\)\. For one "
                                         r"sequence, add a batch axis: input_ids\[None, :\]\. Received: input_ids "
                                         r"with shape \(5,\)"):
        bert({"input_ids": np.ones((5,), "int32")})


def test_empty_sequence(bert):
    with pytest.raises(ValueError, match=r"empty `input_ids`.*Received: input_ids with shape \(2, 0\)"):
        bert({"input_ids": np.ones((2, 0), "int32")})


def test_attention_mask_of_another_shape(bert):
    with pytest.raises(ValueError, match=r"expects `attention_mask` of shape \(batch, seq_len\) like input_ids, "
                                         r"i\.e\. \(2, 5\)\. Received: attention_mask with shape \(2, 7\) for "
                                         r"input_ids of shape \(2, 5\)"):
        bert({"input_ids": np.ones((2, 5), "int32"), "attention_mask": np.ones((2, 7), "int32")})


def test_non_numeric_config_field(checkpoint, tmp_path):
    target = _copy(checkpoint, tmp_path)
    config = json.loads((target / "config.json").read_text())
    config["hidden_size"] = "abc"
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(TypeError, match=r"BertModel config field `hidden_size` must be an integer \(default 768\)\. "
                                        r"Received: hidden_size='abc' \(str\)"):
        tfmodels.BertModel.from_pretrained(target)


def test_gpt2_sequence_longer_than_its_positions():
    model = tfmodels.GPT2Model(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=8)
    with pytest.raises(ValueError, match=r"GPT2Model accepts at most 8 tokens per sequence \(its position table "
                                         r"has 8 rows\)\. Truncate the input.*Received: sequence length 9\."):
        model({"input_ids": np.ones((1, 9), "int32")})


# -- masks given to layers (issue 19 bug 5) ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def block_and_inputs():
    from tfmodels.layers import TransformerEncoderBlock

    block = TransformerEncoderBlock(num_heads=2, intermediate_size=16)
    x = np.random.RandomState(0).randn(4, 4, 8).astype("float32")  # batch == seq_len, where broadcasting hides bugs
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]])
    reference = np.asarray(block(x, attention_mask=mask.astype(bool)[:, None, None, :]))
    return block, x, mask, reference


@pytest.mark.parametrize("form", ["bool", "int", "hf_additive", "float_min_additive", "keras_3d"])
def test_layer_converts_documented_mask_forms(block_and_inputs, form):
    block, x, mask, reference = block_and_inputs
    given = {
        "bool": mask.astype(bool),
        "int": mask.astype("int32"),
        "hf_additive": ((1 - mask) * -1e4).astype("float32"),
        "float_min_additive": np.where(mask == 1, 0, np.finfo("float32").min).astype("float32"),
        "keras_3d": np.broadcast_to(mask.astype(bool)[:, None, :], (4, 4, 4)),
    }[form]
    np.testing.assert_allclose(block(x, attention_mask=given), reference, atol=1e-6)


def test_layer_rejects_mask_of_another_length(block_and_inputs):
    block, x, _, _ = block_and_inputs
    with pytest.raises(ValueError, match=r"`attention_mask` of shape \(4, 5\) does not match the attention sizes "
                                         r"batch=4, query_len=4, key_len=4 \(axis 1: 5 vs 4\)\. Accepted attention "
                                         r"masks: bool"):
        block(x, attention_mask=np.ones((4, 5), bool))


def test_layer_rejects_mask_of_another_rank(block_and_inputs):
    block, x, _, _ = block_and_inputs
    with pytest.raises(ValueError, match=r"`attention_mask` has rank 1; expected rank 2, 3 or 4.*Accepted"):
        block(x, attention_mask=np.ones((4,), bool))


# -- the command line refuses to overwrite, and names its own flags (issue 10 §4) ------------------------------------

def test_cli_convert_refuses_a_non_empty_destination(checkpoint, tmp_path, capsys):
    from tfmodels.cli import main

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "config.json").write_text("{\"mine\": true}")
    assert main(["convert", checkpoint, str(tmp_path / "out")]) == 1
    assert "out exists and is not empty; pass --overwrite to replace its contents" in capsys.readouterr().err
    assert json.loads((tmp_path / "out" / "config.json").read_text()) == {"mine": True}
    assert main(["convert", checkpoint, str(tmp_path / "out"), "--overwrite"]) == 0
    assert json.loads((tmp_path / "out" / "config.json").read_text())["model_type"] == "bert"


def test_cli_export_names_the_cli_flag(checkpoint, tmp_path, capsys):
    from tfmodels.cli import main

    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "keep.txt").write_text("x")
    assert main(["export", checkpoint, str(tmp_path / "sm")]) == 1
    err = capsys.readouterr().err
    assert "pass --overwrite to replace its contents" in err and "overwrite=True" not in err


def test_cli_export_max_length_needs_a_tokenizer(checkpoint, tmp_path, capsys):
    from tfmodels.cli import main

    assert main(["export", checkpoint, str(tmp_path / "sm"), "--max-length", "16"]) == 1
    assert "--max-length sets the in-graph tokenizer's length; it needs --tokenizer." in capsys.readouterr().err
