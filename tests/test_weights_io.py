"""Keras weight files written in row blocks (`tfmodels.models.weights_io`) and one-copy variable reads."""

import h5py
import keras
import numpy as np
import pytest

import tfmodels
from tests.helpers import random_inputs
from tfmodels.layers.utils import READ_BLOCK_BYTES, read_blocks, variable_to_numpy


def _model_with_a_big_table():
    # 5003 x 256 float32 word embeddings = 4.9 MiB: two row blocks, the second one short.
    model = tfmodels.BertForMaskedLM(
        vocab_size=5003, hidden_size=256, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64,
    )
    model(random_inputs(vocab_size=5003))  # an embedding lookup puts the table in copy-on-read mode
    return model


def _datasets(path):
    found = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda name, item: found.__setitem__(name, (item[()], dict(item.attrs)))
                      if isinstance(item, h5py.Dataset) else None)
    return found


def test_big_variables_take_the_block_path():
    model = _model_with_a_big_table()
    table = next(w for w in model.weights if w.path.endswith("word_embeddings/embeddings"))
    blocks = read_blocks(table)
    assert blocks is not None and len(blocks) == 2 and blocks[-1][1] == 5003
    assert all((stop - start) * 256 * 4 <= READ_BLOCK_BYTES for start, stop in blocks)
    copy = variable_to_numpy(table)
    np.testing.assert_array_equal(copy, table.numpy())
    copy[0, 0] += 1.0  # a copy, not a view of the variable
    assert copy[0, 0] != table.numpy()[0, 0]


def test_file_equals_the_one_keras_writes(tmp_path):
    model = _model_with_a_big_table()
    ours, theirs = tmp_path / "ours.weights.h5", tmp_path / "keras.weights.h5"
    model.save_weights(ours)
    keras.Model.save_weights(model, theirs)  # Keras' own writer
    a, b = _datasets(ours), _datasets(theirs)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name][0].dtype == b[name][0].dtype and a[name][0].shape == b[name][0].shape, name
        np.testing.assert_array_equal(a[name][0], b[name][0], err_msg=name)
        assert a[name][1] == b[name][1], name

    reloaded = tfmodels.BertForMaskedLM.from_config(model.get_config())
    reloaded.build_from_dummy_inputs()
    reloaded.load_weights(ours)
    inputs = random_inputs(vocab_size=5003, seed=1)
    np.testing.assert_array_equal(model(inputs)["logits"], reloaded(inputs)["logits"])


def test_sharded_files_go_through_keras(tmp_path):
    model = _model_with_a_big_table()
    model.save_weights(tmp_path / "model.weights.json", max_shard_size=0.01)
    reloaded = tfmodels.BertForMaskedLM.from_config(model.get_config())
    reloaded.build_from_dummy_inputs()
    reloaded.load_weights(tmp_path / "model.weights.json")
    for x, y in zip(model.weights, reloaded.weights):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_save_weights_keeps_keras_errors(tmp_path):
    model = _model_with_a_big_table()
    with pytest.raises(ValueError, match="weights.h5"):
        model.save_weights(tmp_path / "model.h5")
