"""Rotary position embedding (RoPE): rotates feature pairs by position-dependent angles."""

import keras
import numpy as np
from keras import ops


def sinusoid_table(num_positions, dim, base=10000.0):
    """The RoFormer/XLM sinusoid table, computed in float64 like the reference.

    Returns:
        `(sin, cos)`, float32 NumPy arrays `(num_positions, dim // 2)` with
        `sin[p, j] = sin(p / base ** (2 j / dim))`.
    """
    half = dim // 2
    angles = np.arange(num_positions, dtype="float64")[:, None] / np.power(base, 2 * np.arange(half) / dim)[None]
    return np.sin(angles).astype("float32"), np.cos(angles).astype("float32")


@keras.saving.register_keras_serializable(package="tfmodels")
class RotaryEmbedding(keras.layers.Layer):
    """Applies rotary position embedding to per-head features.

    Feature pairs are rotated by `position * base ** (-2 j / dim)`:
    `x' = x * cos + rotate(x) * sin`. RoFormer pairs adjacent features
    (`interleaved=True`: `(x0, x1), (x2, x3), ...`); GPT-NeoX/LLaMA pair the
    two halves (`interleaved=False`: `(x_j, x_{j + dim/2})`).

    The angle table is a constant computed once in float64 (no variables),
    so it adds nothing to checkpoints.

    Args:
        max_positions: int, table length (largest position + 1).
        dim: int, features per head `H` (even).
        base: float, wavelength base.
        interleaved: bool, pairing convention (see above).
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(B, T, N, H)`.
        positions: optional int tensor `(T,)` or `(B, T)`; `arange(T)` if absent.

    Returns:
        float tensor `(B, T, N, H)`.

    References:
        Su et al., "RoFormer: Enhanced Transformer with Rotary Position
        Embedding", 2021. Parity reference:
        `transformers.models.roformer.modeling_roformer.RoFormerSelfAttention.apply_rotary_position_embeddings`.
    """

    def __init__(self, max_positions, dim, base=10000.0, interleaved=True, **kwargs):
        super().__init__(**kwargs)
        if dim % 2:
            raise ValueError(f"Rotary embedding needs an even feature size. Received: dim={dim}")
        self.max_positions = max_positions
        self.dim = dim
        self.base = base
        self.interleaved = interleaved
        self._sin, self._cos = sinusoid_table(max_positions, dim, base)
        self.built = True

    def _expand(self, table, positions, seq_len):
        if positions is None:
            positions = ops.arange(seq_len, dtype="int32")
        angles = ops.take(ops.convert_to_tensor(table), ops.cast(positions, "int32"), axis=0)  # (..., T, H/2)
        if self.interleaved:
            angles = ops.reshape(ops.stack([angles, angles], axis=-1), (*ops.shape(angles)[:-1], self.dim))
        else:
            angles = ops.concatenate([angles, angles], axis=-1)
        return angles[None, :, None, :] if len(angles.shape) == 2 else angles[:, :, None, :]  # (B|1, T, 1, H)

    def _rotate(self, x):
        if self.interleaved:  # [-x1, x0, -x3, x2, ...]
            return ops.reshape(ops.stack([-x[..., 1::2], x[..., 0::2]], axis=-1), ops.shape(x))
        half = self.dim // 2
        return ops.concatenate([-x[..., half:], x[..., :half]], axis=-1)

    def call(self, x, positions=None):
        seq_len = ops.shape(x)[1]
        sin = ops.cast(self._expand(self._sin, positions, seq_len), x.dtype)
        cos = ops.cast(self._expand(self._cos, positions, seq_len), x.dtype)
        return x * cos + self._rotate(x) * sin

    def compute_output_shape(self, x_shape, positions_shape=None):
        return x_shape

    def get_config(self):
        return {
            **super().get_config(),
            "max_positions": self.max_positions,
            "dim": self.dim,
            "base": self.base,
            "interleaved": self.interleaved,
        }
