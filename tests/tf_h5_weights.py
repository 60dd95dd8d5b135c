"""Reproducible weights for legacy TF checkpoint fixtures that store no weights.

A real `tf_model.h5` of even a tiny model takes ~100 KB (one dataset under
nested groups per variable), so most families' fixtures
(`tests/fixtures/tf_h5/variables/`) hold only the TF variable names and
shapes, the config and the TF model's outputs. Their weights are a function
of the variable's name: `scripts/make_tf_h5_fixtures.py` assigns
`synthetic_value(name, shape)` to every variable of the TF model before
computing its outputs, and the tests write the same values into a
`tf_model.h5` laid out as Keras 2's `save_weights` writes it
(`write_keras2_h5`). Only NumPy (and h5py for writing) are needed, so the
builder's TensorFlow 2.15 venv and the test environment share this module.
"""

import zlib

import numpy as np

_UNIT_SUFFIXES = ("gamma:0",)  # layer-norm scales: around 1, as trained models have them
_UNIT_NORM_NAMES = ("layer_norm", "layernorm", "norm")


def synthetic_value(name, shape, dtype="float32"):
    """A random tensor seeded by `name`: N(0, 0.1), plus 1 for normalisation scales."""
    rng = np.random.RandomState(zlib.crc32(name.encode("utf8")))
    value = rng.normal(0.0, 0.1, shape)
    parts = name.lower().split("/")
    is_scale = name.endswith(_UNIT_SUFFIXES) or (
        parts[-1] == "weight:0" and len(parts) > 1 and any(n in parts[-2] for n in _UNIT_NORM_NAMES))
    return (value + 1.0 if is_scale else value).astype(dtype)


def default_layer(name):
    """The layer group of TF variable `name` in a Keras 2 `save_weights` file, as most models write it: the
    name's second level (`tf_bert_model/bert/...` -> `bert`), or the name itself for one-level names
    (`final_logits_bias:0` -> `final_logits_bias`)."""
    parts = name.split("/")
    return parts[1] if len(parts) > 1 else parts[0].split(":")[0]


def write_keras2_h5(path, variables, constants=None, layers=None):
    """Writes `{tf_name: shape}` with `synthetic_value`s (or the arrays of `constants`, `{tf_name: array}`)
    as a Keras 2 `save_weights` file (root attribute `layer_names`; per layer group `weight_names` and a
    dataset per name).

    Layers are `default_layer(name)`, or `layers[name]` (`{tf_name: layer}`) for the names it lists
    (RAG's `final_logits_bias:0` is under its `generator` layer).
    """
    import h5py

    groups = {}
    for name, shape in variables.items():
        groups.setdefault((layers or {}).get(name) or default_layer(name), {})[name] = shape
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode("utf8") for n in groups]
        for layer, names in groups.items():
            group = f.create_group(layer)
            group.attrs["weight_names"] = [n.encode("utf8") for n in names]
            for name, shape in names.items():
                value = constants[name] if constants and name in constants else synthetic_value(name, tuple(shape))
                group.create_dataset(name, data=value)
