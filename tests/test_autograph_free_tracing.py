"""Tracing a model in a `tf.function` does not run autograph over tfmodels' Python.

Autograph rewrites the source of every function it converts, on every trace:
for a 6-layer BERT that was 0.9 s of a 1.7 s trace. `PreTrainedModel`'s input
handling is plain Python and runs unconverted (`_call_with_named_inputs`), and
`SentenceEmbedder` traces with `autograph=False`. The spy counts the functions
autograph converts (`tensorflow.python.autograph.impl.api._convert_actual`, the
one place it transforms source); the traced outputs must equal the eager
call's to float32 rounding (the graph runs oneDNN's fused kernels).
"""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.autograph.impl import api as autograph_api

import tfmodels
from tests.helpers import TOLERANCE
from tests.tiny_models import random_model_inputs, tiny_model


@pytest.fixture
def converted(monkeypatch):
    names = []
    convert = autograph_api._convert_actual

    def spy(entity, program_ctx):
        names.append(f"{getattr(entity, '__module__', '')}.{getattr(entity, '__qualname__', entity)}")
        return convert(entity, program_ctx)

    monkeypatch.setattr(autograph_api, "_convert_actual", spy)
    return names


@pytest.mark.parametrize("class_name", ["BertForSequenceClassification", "GPT2LMHeadModel"])
def test_model_in_a_tf_function_is_not_converted(class_name, converted):
    model = tiny_model(class_name)
    inputs = {**random_model_inputs(model), "attention_mask": np.array([[1] * 6, [1] * 4 + [0] * 2], np.int32)}
    expected = model(inputs, training=False)
    traced = tf.function(lambda x: model(x, training=False))(inputs)
    ours = [name for name in converted if name.startswith("tfmodels.")]
    # The spy sees conversions at all (the lambda, `__call__`'s one line), so an empty list is evidence.
    assert converted, "autograph converted nothing: the spy no longer watches the conversion"
    assert ours == ["tfmodels.models.base.PreTrainedModel.__call__"], ours
    for key in expected:
        np.testing.assert_allclose(np.asarray(traced[key]), np.asarray(expected[key]), atol=TOLERANCE, rtol=0)


def test_sentence_embedder_traces_without_autograph(converted):
    model = tiny_model("BertModel")
    embedder = tfmodels.SentenceEmbedder(model, tokenizer=None)
    inputs = {**random_model_inputs(model), "attention_mask": np.array([[1] * 6, [1] * 4 + [0] * 2], np.int32)}
    tensors = [tf.constant(inputs.get(name, np.zeros((2, 6))), tf.int32) for name in embedder.input_names]
    embeddings = embedder._embed(*tensors).numpy()
    assert converted == []
    np.testing.assert_allclose(embeddings, embedder.embed_tensors(*tensors).numpy(), atol=TOLERANCE, rtol=0)
