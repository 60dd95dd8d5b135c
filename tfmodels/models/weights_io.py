"""Keras weight files (`*.weights.h5`) written without full-size copies of big variables.

Keras' HDF5 store turns every variable into a NumPy array with
`np.array(variable)`, which holds two full-size copies at its peak (a tensor
read, then an array). For BERT-base's 89 MiB word embeddings that is the
peak of a whole `tfmodels convert`: 1.50x the checkpoint's size instead of
1.19x. `save_weights` hands Keras an empty placeholder for each variable
that `tfmodels.layers.utils.read_blocks` splits into row blocks, then
replaces the placeholders with h5py, writing those variables block by block
(4 MiB each). Every other variable goes through Keras unchanged. The result
is the file Keras writes (same groups, dataset names, shapes and dtypes), so
`keras.Model.load_weights` reads it.
"""

import contextlib
import os

import h5py
import keras
import numpy as np

from tfmodels.layers.utils import read_blocks, read_rows

# Placeholder datasets have the shape (0, 0, _MARKER, index): empty, and no real variable's shape.
_MARKER = 7_368_055


class _PlaceholderStore:
    """Forwards a Keras weights store; big variables are recorded and stored as placeholders."""

    def __init__(self, store, pending):
        self._store = store
        self._pending = pending

    def __setitem__(self, key, value):
        if (
            isinstance(value, keras.Variable)
            and value.dtype in ("float16", "float32", "float64")
            and read_blocks(value) is not None
        ):
            self._pending.append(value)
            value = np.zeros((0, 0, _MARKER, len(self._pending) - 1), dtype=value.dtype)
        self._store[key] = value

    def __getitem__(self, key):
        return self._store[key]

    def __contains__(self, key):
        return key in self._store

    def __len__(self):
        return len(self._store)

    def __getattr__(self, name):
        return getattr(self._store, name)


@contextlib.contextmanager
def _placeholders(model, pending):
    """Routes every layer's `save_own_variables` through `_PlaceholderStore` (instance attributes,
    removed on exit)."""
    layers = list(model._flatten_layers(include_self=True))
    for layer in layers:
        save = layer.save_own_variables
        object.__setattr__(
            layer, "save_own_variables", lambda store, save=save: save(_PlaceholderStore(store, pending))
        )
    try:
        yield
    finally:
        for layer in layers:
            object.__delattr__(layer, "save_own_variables")


def _fill_placeholders(filepath, pending):
    with h5py.File(filepath, "r+") as h5:
        found = {}

        def visit(name, item):
            if isinstance(item, h5py.Dataset) and item.ndim == 4 and item.shape[:3] == (0, 0, _MARKER):
                found[item.shape[3]] = name

        h5.visititems(visit)
        if sorted(found) != list(range(len(pending))):
            raise RuntimeError(
                f"{filepath}: expected {len(pending)} placeholder datasets written by Keras, found "
                f"{len(found)}. Save with `keras.Model.save_weights(model, path)` instead."
            )
        for index, name in found.items():
            variable = pending[index]
            dtype = h5[name].dtype
            del h5[name]
            dataset = h5.create_dataset(name, shape=tuple(variable.shape), dtype=dtype)
            for start, stop in read_blocks(variable):
                dataset[start:stop] = read_rows(variable, start, stop)


def save_weights(model, keras_save_weights, filepath, overwrite=True, max_shard_size=None):
    """Writes `model`'s weights like `keras.Model.save_weights`, peaking at one 4 MiB block per variable.

    Args:
        model: a built `keras.Model`.
        keras_save_weights: Keras' own `save_weights`, bound to `model`.
        filepath: a local path ending in `.weights.h5`. Sharded (`max_shard_size`)
            and remote (`gs://...`) files are written by Keras as usual.
        overwrite: as in Keras (`False` asks before replacing a file).
        max_shard_size: as in Keras.

    Raises:
        ValueError: from Keras, e.g. for a path not ending in `.weights.h5`.
        RuntimeError: if the file Keras wrote lacks the expected placeholders
            (a Keras change); the file is removed.
    """
    path = str(filepath)
    if (
        max_shard_size is not None
        or "://" in path
        or not path.endswith(".weights.h5")
        or not hasattr(model, "_flatten_layers")  # Keras internals this relies on
    ):
        return keras_save_weights(filepath, overwrite=overwrite, max_shard_size=max_shard_size)
    pending = []
    with _placeholders(model, pending):
        keras_save_weights(filepath, overwrite=overwrite)
    if not pending:
        return None
    try:
        _fill_placeholders(path, pending)
    except BaseException:
        if os.path.exists(path):
            os.remove(path)
        raise
    return None
