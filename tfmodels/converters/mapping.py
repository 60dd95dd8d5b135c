"""Declarative weight tables: Keras variable <- Hugging Face key + transform.

A table is a list of `Param`s. Each names a checkpoint key, the attribute
path of a Keras variable inside the model (`"bert.encoder_layers.0.
self_attention.query_dense.kernel"`: attributes separated by dots, integers
index lists), and the transform between the two layouts. The same table is
read forwards by the loader and backwards by `save_pretrained`.

Transforms know both directions and the checkpoint shape they expect, so a
shape mismatch is reported before any tensor is read.
"""

import dataclasses
import math

import numpy as np


class Transform:
    """Identity: the checkpoint tensor has the Keras variable's layout."""

    name = "identity"

    def hf_shape(self, keras_shape):
        return tuple(keras_shape)

    def to_keras(self, array, keras_shape):
        return array.reshape(keras_shape)

    def to_hf(self, array):
        return array


class Linear(Transform):
    """PyTorch `nn.Linear` weight `(out, in)` <-> Keras kernel `(in..., out...)`.

    The Keras kernel may split either side into several axes, e.g. a query
    kernel `(hidden, heads, head_dim)` (`in_axes=1`) or an attention output
    kernel `(heads, head_dim, hidden)` (`in_axes=2`): one transpose and one
    reshape either way.

    Args:
        in_axes: how many leading Keras kernel axes form the input features.
    """

    name = "linear"

    def __init__(self, in_axes=1):
        self.in_axes = in_axes

    def _split(self, keras_shape):
        return math.prod(keras_shape[: self.in_axes]), math.prod(keras_shape[self.in_axes :])

    def hf_shape(self, keras_shape):
        n_in, n_out = self._split(keras_shape)
        return (n_out, n_in)

    def to_keras(self, array, keras_shape):
        return array.T.reshape(keras_shape)

    def to_hf(self, array):
        n_in, n_out = self._split(array.shape)
        return array.reshape(n_in, n_out).T


class Flatten(Transform):
    """PyTorch vector `(n,)` <-> Keras tensor of any shape with `n` entries (e.g. a `(heads, head_dim)` bias)."""

    name = "flatten"

    def hf_shape(self, keras_shape):
        return (math.prod(keras_shape),)

    def to_hf(self, array):
        return array.reshape(-1)


class Conv1D(Transform):
    """GPT-2 `Conv1D` weight `(in, out)` <-> Keras kernel `(in..., out...)` (no transpose)."""

    name = "conv1d"

    def __init__(self, in_axes=1):
        self.in_axes = in_axes

    def hf_shape(self, keras_shape):
        return (math.prod(keras_shape[: self.in_axes]), math.prod(keras_shape[self.in_axes :]))

    def to_hf(self, array):
        return array.reshape(self.hf_shape(array.shape))


class Split(Transform):
    """One part of a fused checkpoint tensor (GPT-2's `c_attn` = [query | key | value]).

    The checkpoint tensor is `count` equal parts concatenated along `axis`
    (in the Hugging Face layout); this row's variable is part `index`,
    converted with `inner`. Several rows share one `hf_key`, one per part:
    the loader slices its part, `save_pretrained` concatenates the parts in
    `index` order (`merge_parts`).

    Args:
        inner: transform of the part (e.g. `Conv1D()` or `FLATTEN`).
        index: int, which part this row holds.
        count: int, number of parts.
        axis: int, concatenation axis in the checkpoint layout.
    """

    name = "split"

    def __init__(self, inner, index, count, axis=-1):
        if not 0 <= index < count:
            raise ValueError(f"Split index must be in [0, count). Received: index={index}, count={count}")
        self.inner = inner
        self.index = index
        self.count = count
        self.axis = axis

    def hf_shape(self, keras_shape):
        shape = list(self.inner.hf_shape(keras_shape))
        shape[self.axis] *= self.count
        return tuple(shape)

    def to_keras(self, array, keras_shape):
        size = array.shape[self.axis] // self.count
        part = np.take(array, np.arange(self.index * size, (self.index + 1) * size), axis=self.axis)
        return self.inner.to_keras(part, keras_shape)

    def to_hf(self, array):
        return self.inner.to_hf(array)

    def merge_parts(self, parts):
        """Concatenates `{index: hf_array}` of all parts into the checkpoint tensor."""
        if sorted(parts) != list(range(self.count)):
            raise ValueError(f"Split parts {sorted(parts)} do not cover all {self.count} parts.")
        return np.concatenate([parts[i] for i in range(self.count)], axis=self.axis)


IDENTITY = Transform()
LINEAR = Linear(1)
LINEAR_FROM_HEADS = Linear(2)
FLATTEN = Flatten()
CONV1D = Conv1D(1)
CONV1D_FROM_HEADS = Conv1D(2)


@dataclasses.dataclass(frozen=True)
class Param:
    """One row of a weight table.

    Attributes:
        hf_key: checkpoint key in Hugging Face PyTorch naming.
        keras_path: attribute path of the Keras variable in the model.
        transform: layout conversion between the two.
        optional: if the key is absent, keep the variable's initial value and
            warn instead of failing (task heads, poolers).
        head: the row belongs to a task head; `ignore_mismatched_sizes=True`
            may re-initialise it when its shape differs.
        aliases: other checkpoint keys holding the same tensor (older or
            tied names), tried in order when `hf_key` is absent.
    """

    hf_key: str
    keras_path: str
    transform: Transform = IDENTITY
    optional: bool = False
    head: bool = False
    aliases: tuple = ()


@dataclasses.dataclass
class WeightTable:
    """The table for one model instance plus the keys it deliberately skips.

    Attributes:
        params: the rows.
        ignored_keys: regexes of checkpoint keys that carry no weights of
            ours (buffers such as `position_ids`, tied copies).
        other_head_keys: regexes of keys that belong to heads this model
            does not have; loading skips them with a warning.
        base_model_prefix: prefix of backbone keys in head checkpoints.
        is_head_model: whether backbone keys carry `base_model_prefix`.
    """

    params: list
    ignored_keys: tuple = ()
    other_head_keys: tuple = ()
    base_model_prefix: str = None
    is_head_model: bool = False


def prefixed(prefix, params):
    """Returns `params` with `prefix` prepended to both key and path."""
    if not prefix:
        return list(params)
    return [
        dataclasses.replace(
            p,
            hf_key=f"{prefix}.{p.hf_key}",
            keras_path=f"{prefix}.{p.keras_path}",
            aliases=tuple(f"{prefix}.{a}" for a in p.aliases),
        )
        for p in params
    ]


def resolve_variable(model, keras_path):
    """Follows a dotted attribute path (`a.b.0.c`) from `model` to a variable.

    Raises:
        AttributeError: naming the path and the first part that is missing.
    """
    obj = model
    for part in keras_path.split("."):
        try:
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        except (AttributeError, IndexError, TypeError):
            raise AttributeError(
                f"{type(model).__name__} has no variable at {keras_path!r} (stopped at {part!r}). "
                "The weight table and the model disagree; this is a tfmodels bug."
            ) from None
    return obj

