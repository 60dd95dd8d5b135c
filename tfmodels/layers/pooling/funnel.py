"""Funnel-Transformer sequence pooling and upsampling.

Pooling halves the sequence axis with windows of 2 (mean, max or min).
With `separate_cls=True` the first ([CLS]) token is kept apart: the sequence
becomes `[x0] + x` (minus its last token with `truncate_seq=True`) before
pooling, so the pooled sequence starts with `x0` unchanged. A last window
with a single token returns that token (PyTorch `ceil_mode=True`).

The window structure depends only on the (static) length, so it is computed
in Python and applied with gathers: XLA-friendly and exact.

Size glossary: B batch, L sequence length, D features.

References:
    Dai et al., "Funnel-Transformer: Filtering out Sequential Redundancy for
    Efficient Language Processing", NeurIPS 2020.
    Parity reference: `transformers.models.funnel.modeling_funnel`
    (`FunnelAttentionStructure.pool_tensor` / `stride_pool`, `upsample`).
"""

import keras
from keras import ops

POOLING_MODES = ("mean", "max", "min")


def _static_length(x, axis):
    length = x.shape[axis]
    if length is None:
        raise ValueError(
            "Funnel pooling needs a static sequence length (pad inputs to a fixed length). "
            f"Received a tensor of shape {tuple(x.shape)}."
        )
    return length


def _source_indices(length, separate_cls, truncate_seq):
    """Indices of the sequence the windows run over (with the [CLS] copy)."""
    if not separate_cls:
        return list(range(length))
    body = list(range(length - 1)) if truncate_seq else list(range(length))
    return [0] + body


def stride_pool_indices(length, separate_cls=True, truncate_seq=True):
    """Indices kept by Funnel's stride pooling (slicing every other position)."""
    return _source_indices(length, separate_cls, truncate_seq)[::2]


def stride_pool(x, axis, separate_cls=True, truncate_seq=True):
    """Keeps every other position along `axis` (the first one kept apart with `separate_cls`).

    Args:
        x: tensor; `axis` must have a static length.
        axis: int or sequence of ints.

    Returns:
        `x` gathered along each axis.
    """
    if x is None:
        return None
    for ax in (axis if isinstance(axis, (list, tuple)) else (axis,)):
        ax %= len(x.shape)
        indices = stride_pool_indices(_static_length(x, ax), separate_cls, truncate_seq)
        x = ops.take(x, ops.array(indices, dtype="int32"), axis=ax)
    return x


def pool_sequence(x, mode="mean", separate_cls=True, truncate_seq=True):
    """Pools axis 1 of `x` `(B, L, ...)` with windows of 2.

    Returns:
        tensor `(B, ceil(L' / 2), ...)`, `L'` the length after the [CLS] handling.
    """
    if mode not in POOLING_MODES:
        raise ValueError(f"pooling mode must be one of {POOLING_MODES}. Received: mode={mode!r}")
    source = _source_indices(_static_length(x, 1), separate_cls, truncate_seq)
    first = source[0::2]
    second = source[1::2] + first[len(source[1::2]):]  # a lone last token pairs with itself
    a = ops.take(x, ops.array(first, dtype="int32"), axis=1)
    b = ops.take(x, ops.array(second, dtype="int32"), axis=1)
    if mode == "mean":
        return (a + b) / ops.cast(2, a.dtype)
    if mode == "max":
        return ops.maximum(a, b)
    return ops.minimum(a, b)


def upsample(x, stride, target_len, separate_cls=True, truncate_seq=True):
    """Repeats each token `stride` times along axis 1 to reach `target_len`.

    Args:
        x: tensor `(B, L_pooled, D)`.
        stride: int, repeat factor (`2 ** (num_blocks - 1)`).
        target_len: int, output length.

    Returns:
        tensor `(B, target_len, D)`.
    """
    if stride == 1:
        return x
    if not separate_cls:
        return ops.repeat(x, stride, axis=1)[:, :target_len]
    cls, body = x[:, :1], x[:, 1:]
    output = ops.repeat(body, stride, axis=1)
    if truncate_seq:
        output = ops.pad(output, [[0, 0], [0, stride - 1], [0, 0]])
    return ops.concatenate([cls, output[:, : target_len - 1]], axis=1)


@keras.saving.register_keras_serializable(package="tfmodels")
class FunnelPooling(keras.layers.Layer):
    """Layer form of `pool_sequence`: `(B, L, D)` -> `(B, ~L/2, D)`.

    Args:
        mode: `"mean"`, `"max"` or `"min"`.
        separate_cls: bool, keep the first token apart.
        truncate_seq: bool, drop the last token before pooling (with `separate_cls`).
    """

    def __init__(self, mode="mean", separate_cls=True, truncate_seq=True, **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLING_MODES:
            raise ValueError(f"mode must be one of {POOLING_MODES}. Received: mode={mode!r}")
        self.mode = mode
        self.separate_cls = separate_cls
        self.truncate_seq = truncate_seq

    def call(self, x):
        return pool_sequence(x, self.mode, self.separate_cls, self.truncate_seq)

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        if length is not None:
            length = (len(_source_indices(length, self.separate_cls, self.truncate_seq)) + 1) // 2
        return (input_shape[0], length, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "separate_cls": self.separate_cls,
                "truncate_seq": self.truncate_seq}


@keras.saving.register_keras_serializable(package="tfmodels")
class FunnelUpsampling(keras.layers.Layer):
    """Layer form of `upsample`: `(B, L_pooled, D)` -> `(B, target_len, D)`."""

    def __init__(self, stride, target_len, separate_cls=True, truncate_seq=True, **kwargs):
        super().__init__(**kwargs)
        self.stride = stride
        self.target_len = target_len
        self.separate_cls = separate_cls
        self.truncate_seq = truncate_seq

    def call(self, x):
        return upsample(x, self.stride, self.target_len, self.separate_cls, self.truncate_seq)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.target_len, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "target_len": self.target_len,
                "separate_cls": self.separate_cls, "truncate_seq": self.truncate_seq}
