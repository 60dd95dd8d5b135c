"""Large tables keep sharing their buffer with whole reads after loading and saving.

A partial access to a TensorFlow resource variable (row-block writes when
loading, row-block reads when saving) switches it to copy-on-read mode: every
later whole read, which each graph-mode call runs, copies the table (GPT-2's
word embeddings: about 25 ms, twice per generated token). Two reads of a
variable that is not in that mode return the same buffer.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tfmodels.layers.utils import ROW_BLOCK_BYTES, disable_copy_on_read, variable_to_numpy


def _reads_share_buffer(variable):
    value = variable.value if isinstance(variable, keras.Variable) else variable
    first, second = value.read_value(), value.read_value()  # both alive: a copy cannot reuse the address
    return np.asarray(first).__array_interface__["data"][0] == np.asarray(second).__array_interface__["data"][0]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    # A word-embedding table above ROW_BLOCK_BYTES, so it is loaded in row blocks.
    config = transformers.BertConfig(vocab_size=20000, hidden_size=256, num_hidden_layers=1,
                                     num_attention_heads=4, intermediate_size=64)
    assert config.vocab_size * config.hidden_size * 4 > ROW_BLOCK_BYTES
    path = tmp_path_factory.mktemp("bert")
    transformers.BertForMaskedLM(config).save_pretrained(path)
    return path


def test_partial_access_makes_reads_copy_until_disabled():
    variable = tf.Variable(tf.zeros([64, 8]))
    assert _reads_share_buffer(variable)
    variable.sparse_read([1, 2])
    assert not _reads_share_buffer(variable)
    disable_copy_on_read(variable)
    assert _reads_share_buffer(variable)


def test_loaded_table_is_read_without_copies(checkpoint):
    model = tfmodels.BertForMaskedLM.from_pretrained(checkpoint)
    table = model.get_input_embeddings().embeddings
    assert _reads_share_buffer(table)
    reference = transformers.BertForMaskedLM.from_pretrained(checkpoint)
    np.testing.assert_array_equal(table.numpy(), reference.bert.embeddings.word_embeddings.weight.detach().numpy())


def test_saving_leaves_the_table_read_without_copies(checkpoint, tmp_path):
    model = tfmodels.BertForMaskedLM.from_pretrained(checkpoint)
    table = model.get_input_embeddings().embeddings
    variable_to_numpy(table)
    assert _reads_share_buffer(table)
    model.save_pretrained(tmp_path / "out")
    assert _reads_share_buffer(table)
