"""A model's first eager call creates its variables without Keras' symbolic pre-trace.

Keras traces an unbuilt layer symbolically before its first eager call when the
layer has no `build()` of its own; `PreTrainedModel` marks such layers built, so
the eager call creates the variables (`build_from_dummy_inputs`). The variables
must be those of Keras' own path: same paths, shapes and order.
"""

import keras
import numpy as np
import pytest
from keras.src import backend as keras_backend

import tfmodels
from tests.tiny_models import random_model_inputs, tiny_config, tiny_model
from tfmodels.models.base import PreTrainedModel

CLASSES = ["BertForMaskedLM", "GPT2LMHeadModel", "T5ForConditionalGeneration", "FunnelForSequenceClassification"]


def _variables(model):
    prefix = model.name + "/"
    return [(w.path.removeprefix(prefix), tuple(w.shape), w.dtype) for w in model.weights]


@pytest.mark.parametrize("class_name", CLASSES)
def test_eager_build_makes_the_variables_of_keras_symbolic_build(class_name, monkeypatch):
    traced = []
    trace = keras_backend.compute_output_spec
    monkeypatch.setattr(keras_backend, "compute_output_spec", lambda fn, *a, **k: traced.append(fn) or trace(fn, *a, **k))
    ours = tiny_model(class_name)
    assert traced == []

    monkeypatch.setattr(PreTrainedModel, "_build_in_the_eager_call", lambda self: None)  # Keras' own path
    keras_built = tiny_model(class_name)
    assert traced, "Keras' default build no longer traces: this test no longer compares two paths"
    assert _variables(ours) == _variables(keras_built)


def test_first_eager_call_on_user_inputs_builds_and_runs(monkeypatch):
    traced = []
    trace = keras_backend.compute_output_spec
    monkeypatch.setattr(keras_backend, "compute_output_spec", lambda fn, *a, **k: traced.append(fn) or trace(fn, *a, **k))
    model = tfmodels.BertForSequenceClassification(**tiny_config("bert"))
    inputs = random_model_inputs(tiny_model("BertForSequenceClassification"))
    logits = model(inputs, training=False)["logits"]
    assert traced == [] and model.built and len(model.weights) > 0
    again = model(inputs, training=False)["logits"]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(logits), keras.ops.convert_to_numpy(again))
