"""Keras' own `model.export(dir)`: int32 token-id signature, reloaded in a fresh process."""

import numpy as np
import pytest
import tensorflow as tf

from tests.test_export import _inputs, _run_in_fresh_process
from tests.tiny_models import tiny_model

SHAPES = [(1, 3), (2, 9)]


@pytest.mark.parametrize("class_name", ["BertForSequenceClassification", "BertForMultipleChoice", "GPT2LMHeadModel"])
def test_keras_export_serves_token_ids_in_fresh_process(class_name, tmp_path):
    model = tiny_model(class_name)
    rank = 3 if "MultipleChoice" in class_name else 2
    batches = {f"{b}x{s}": _inputs(b, s, rank) for b, s in SHAPES}
    model.export(tmp_path / "exported", verbose=False)
    np.save(tmp_path / "inputs.npy", batches, allow_pickle=True)
    results = _run_in_fresh_process(tmp_path / "exported", tmp_path / "inputs.npy", tmp_path / "outputs.npy")
    for key, feed in batches.items():
        expected = model(feed, training=False)
        assert sorted(results[key]) == sorted(expected)
        for name in expected:
            diff = np.abs(results[key][name] - expected[name].numpy()).max()
            assert diff <= 1e-5, (key, name, diff)


def test_keras_export_signature_is_int32_with_dynamic_shapes(tmp_path):
    model = tiny_model("BertModel")
    model.export(tmp_path / "exported", verbose=False)
    serve = tf.saved_model.load(str(tmp_path / "exported")).signatures["serving_default"]
    specs = serve.structured_input_signature[1]
    assert sorted(specs) == ["attention_mask", "input_ids", "token_type_ids"]
    for spec in specs.values():
        assert spec.dtype == tf.int32 and spec.shape.as_list() == [None, None]


def test_keras_export_keeps_an_explicit_input_signature(tmp_path):
    model = tiny_model("BertModel")
    signature = [{"input_ids": tf.TensorSpec([None, 7], tf.int64, name="input_ids")}]
    model.export(tmp_path / "exported", verbose=False, input_signature=signature)
    serve = tf.saved_model.load(str(tmp_path / "exported")).signatures["serving_default"]
    spec = serve.structured_input_signature[1]["input_ids"]
    assert spec.dtype == tf.int64 and spec.shape.as_list() == [None, 7]
