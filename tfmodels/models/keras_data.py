"""Tokenizer outputs as Keras inputs.

A `transformers` tokenizer returns a `BatchEncoding`: a mapping, but not a
`dict` (it is a `collections.UserDict`). Keras 3 recognises only real dicts as
nested inputs, so `model(enc)`, `model.fit(enc, y)`, `model.predict(enc)` and a
`tf.data.Dataset.from_tensor_slices((enc, y))` fail inside Keras. The mixin
below turns every non-dict mapping into a `dict` at the public entry points
(`__call__`, `fit`, `evaluate`, `predict`, `*_on_batch`), recursively through
the `(x, y, sample_weight)` tuples and the elements of a `tf.data.Dataset`.
"""

from collections.abc import Mapping

import tensorflow as tf


def as_plain_structure(value):
    """Returns `value` with every non-dict mapping (a `BatchEncoding`) replaced by a `dict`.

    Tuples and lists are rebuilt with converted items; anything else is
    returned unchanged (arrays, tensors, datasets, generators).
    """
    if isinstance(value, Mapping):
        return {key: as_plain_structure(item) for key, item in value.items()}
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(as_plain_structure(item) for item in value)
    if isinstance(value, list):
        return [as_plain_structure(item) for item in value]
    return value


def _holds_foreign_mapping(structure):
    if isinstance(structure, Mapping):
        return type(structure) is not dict or any(_holds_foreign_mapping(v) for v in structure.values())
    if isinstance(structure, (tuple, list)):
        return any(_holds_foreign_mapping(item) for item in structure)
    return False


def as_keras_data(data):
    """`as_plain_structure` for Keras data arguments, including `tf.data.Dataset` elements.

    A dataset made from a `BatchEncoding` (`from_tensor_slices((enc, y))`)
    yields `BatchEncoding` elements whose spec Keras cannot trace; such a
    dataset is mapped to plain dicts. Other datasets are returned as they are.
    """
    if isinstance(data, tf.data.Dataset):
        if not _holds_foreign_mapping(data.element_spec):
            return data
        return data.map(lambda *element: as_plain_structure(element if len(element) > 1 else element[0]))
    return as_plain_structure(data)


class KerasDataMixin:
    """Accepts `BatchEncoding`s (any mapping) wherever Keras takes model inputs.

    Mixed into `PreTrainedModel` ahead of `keras.Model`; each method converts
    its data arguments with `as_keras_data` and calls Keras' own.
    """

    def __call__(self, inputs=None, *args, **kwargs):
        return super().__call__(as_plain_structure(inputs), *args, **kwargs)

    def fit(self, x=None, y=None, *args, **kwargs):
        if kwargs.get("validation_data") is not None:
            kwargs["validation_data"] = as_keras_data(kwargs["validation_data"])
        return super().fit(as_keras_data(x), as_plain_structure(y), *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        return super().evaluate(as_keras_data(x), as_plain_structure(y), *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        return super().predict(as_keras_data(x), *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        return super().train_on_batch(as_plain_structure(x), as_plain_structure(y), *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        return super().test_on_batch(as_plain_structure(x), as_plain_structure(y), *args, **kwargs)

    def predict_on_batch(self, x):
        return super().predict_on_batch(as_plain_structure(x))
