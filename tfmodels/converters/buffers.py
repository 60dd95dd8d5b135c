"""Checkpoint keys a model recomputes instead of loading, and how loading verifies them.

`transformers` keeps some tensors in its state dicts that tfmodels computes
itself: position-id and token-type-id buffers, causal-mask buffers, sinusoid
tables, inverse frequencies, and decoder weights tied to the word embeddings.
Skipping them silently would hide a checkpoint whose tensor differs from what
the model uses (a RoFormer table edited after training changes the outputs).
So each such key has a `BufferCheck` in its weight table: after the weights
are loaded, the checkpoint's tensor is compared with the model's value, and a
difference raises `BufferMismatchError` naming the key and the max |diff|.
"""

import dataclasses
import re
from typing import Callable

import numpy as np

from tfmodels.converters.mapping import resolve_variable

# Float tables recomputed in float64 and rounded to float32 agree to the last bit
# with the reference; this margin only absorbs a different `sin` implementation.
TABLE_ATOL = 1e-6
_BLOCK_ELEMENTS = 1 << 20


@dataclasses.dataclass(frozen=True)
class BufferCheck:
    """A checkpoint key compared with the model's own value instead of loaded.

    Attributes:
        pattern: regex of the checkpoint keys it covers.
        expected: `fn(model, key, checkpoint_shape) -> np.ndarray`, the value
            the model uses; called after the model's weights are loaded.
        description: what the model uses instead, for the error message.
        atol: largest accepted max |checkpoint - expected|.
    """

    pattern: str
    expected: Callable
    description: str
    atol: float = 0.0

    def matches(self, key):
        return re.search(self.pattern, key) is not None

    def max_difference(self, model, key, array):
        """Returns `(expected_shape, max |diff|)`; the difference is `inf` when the shapes differ."""
        array = np.asarray(array)
        expected = np.asarray(self.expected(model, key, tuple(array.shape)))
        if expected.shape != array.shape:
            return expected.shape, float("inf")
        if array.size == 0:
            return expected.shape, 0.0
        # In row blocks: no full-size float64 temporaries beside the two tensors (a tied decoder is big).
        array = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
        expected_rows = expected.reshape(array.shape)
        step = max(1, _BLOCK_ELEMENTS // array.shape[1])
        difference = max(
            float(np.max(np.abs(array[i:i + step].astype("float64") - expected_rows[i:i + step].astype("float64"))))
            for i in range(0, len(array), step)
        )
        return expected.shape, difference


def position_ids_buffer(pattern=r"(^|\.)position_ids$"):
    """`position_ids` buffers `(1, max_positions)`: the model uses `arange`."""
    return BufferCheck(pattern, lambda model, key, shape: np.broadcast_to(np.arange(shape[-1]), shape),
                       "default positions 0, 1, 2, ... the model uses")


def token_type_ids_buffer(pattern=r"(^|\.)token_type_ids$"):
    """`token_type_ids` buffers: the model uses type 0 when none are given."""
    return BufferCheck(pattern, lambda model, key, shape: np.zeros(shape), "all-zero token types the model uses")


def causal_mask_buffer(pattern, window=None):
    """Lower-triangular causal-mask buffers `(1, 1, n, n)` (GPT-2's `attn.bias`).

    Args:
        pattern: regex of the keys.
        window: optional `fn(key) -> int or None`: a local-attention window
            (GPT-Neo's local layers store the band `j > i - window` only).
    """

    def expected(model, key, shape):
        n = shape[-1]
        mask = np.tril(np.ones((n, n), dtype=bool))
        size = window(key) if window is not None else None
        if size:
            mask &= ~np.tril(np.ones((n, n), dtype=bool), -size)
        return np.broadcast_to(mask, shape)

    return BufferCheck(pattern, expected, "causal mask the model builds")


def tied_weight(pattern, row):
    """A weight tied to the variable of table row `row` (a decoder and the word
    embeddings, a decoder bias and the LM bias): it must equal that row's tensor."""

    def expected(model, key, shape):
        return row.transform.to_hf(np.asarray(resolve_variable(model, row.keras_path).numpy()))

    return BufferCheck(pattern, expected, f"weight it is tied to, {row.hf_key}")


def recomputed_table(pattern, table, description, atol=TABLE_ATOL):
    """A constant table (sinusoids) the model computes: `table(model, key)` returns it."""
    return BufferCheck(pattern, lambda model, key, shape: np.asarray(table(model, key)), description, atol)


def constant_buffer(key, value, prefix=None):
    """One key holding a known constant (a `WeightTable.buffers` entry), with or without
    the backbone `prefix` (a base model loading a head checkpoint and back)."""
    if prefix and key.startswith(f"{prefix}."):
        key = key[len(prefix) + 1:]
    pattern = f"^({re.escape(prefix)}\\.)?{re.escape(key)}$" if prefix else f"^{re.escape(key)}$"
    return BufferCheck(pattern, lambda model, k, shape: np.asarray(value),
                       "constant the model computes", TABLE_ATOL)
