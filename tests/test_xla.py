"""XLA (`jit_compile=True`) gives the same outputs as eager execution."""

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.helpers import random_inputs
from tests.test_bert_parity import tiny_bert_config


@pytest.mark.parametrize("class_name", ["BertModel", "BertForSequenceClassification", "BertForMaskedLM",
                                        "BertForQuestionAnswering", "BertForTokenClassification"])
def test_xla_matches_eager(class_name):
    num_labels = 2 if "Question" in class_name else 3
    model = getattr(tfmodels, class_name).from_config(tiny_bert_config(num_labels=num_labels).to_dict())
    inputs = {k: tf.constant(v, tf.int32) for k, v in random_inputs(type_vocab_size=3).items()}
    eager = model(inputs, training=False)
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)(inputs)
    for name in eager:
        assert np.abs(eager[name].numpy() - compiled[name].numpy()).max() <= 1e-5, name


def test_graph_with_dynamic_length_checks_max_positions():
    model = tfmodels.BertModel.from_config(tiny_bert_config().to_dict())
    fn = tf.function(lambda ids: model({"input_ids": ids})["last_hidden_state"],
                     input_signature=[tf.TensorSpec([None, None], tf.int32)])
    assert fn(tf.ones((1, 64), tf.int32)).shape == (1, 64, 32)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"BertModel accepts at most 64 tokens per sequence \(its position table has 64 rows\)"):
        fn(tf.ones((1, 65), tf.int32))
