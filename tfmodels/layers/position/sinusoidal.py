"""Sinusoidal position encodings (Vaswani et al., 2017).

- `sinusoidal_table` / `SinusoidalInitializer`: absolute position tables with
  interleaved sin/cos columns (XLM, FlauBERT, DistilBERT) or halves (Marian, Pegasus);
- `fairseq_sinusoidal_table` / `FairseqSinusoidalInitializer` and
  `padding_offset_positions`: fairseq's table and position numbering (M2M100, FSMT);
- `sinusoidal_embeddings` / `SinusoidalRelativeEmbedding`: relative distances
  with concatenated sin/cos halves (Transformer-XL, XLNet, Funnel).

References:
    Vaswani et al., "Attention Is All You Need", 2017; Dai et al.,
    "Transformer-XL", ACL 2019, section 3.3. Parity references:
    `transformers` `create_sinusoidal_embeddings`, TransfoXL
    `PositionalEmbedding`, `XLNetModel.positional_embedding`,
    `FunnelAttentionStructure.get_position_embeds`.
"""

import keras
import numpy as np
from keras import ops


def sinusoidal_table(num_positions, dim, interleaved=True):
    """`(num_positions, dim)` table of sines and cosines.

    Entry `(pos, j)` uses the angle `pos / 10000 ** (2 * (j // 2) / dim)`.
    Interleaved (`transformers`' `create_sinusoidal_embeddings`: XLM,
    FlauBERT, DistilBERT): `sin` on even columns, `cos` on odd ones. Not
    interleaved (Marian, Pegasus): the sines of the even angles in the first
    `ceil(dim / 2)` columns, the cosines of the odd angles after them.
    """
    positions = np.arange(num_positions, dtype="float64")[:, None]
    rates = np.power(10000.0, 2 * (np.arange(dim) // 2) / dim)[None, :]
    angles = positions / rates  # (num_positions, dim)
    table = np.empty((num_positions, dim), dtype="float64")
    if interleaved:
        table[:, 0::2] = np.sin(angles[:, 0::2])
        table[:, 1::2] = np.cos(angles[:, 1::2])
    else:
        half = (dim + 1) // 2
        table[:, :half] = np.sin(angles[:, 0::2])
        table[:, half:] = np.cos(angles[:, 1::2])
    return table


def fairseq_sinusoidal_table(num_positions, dim, padding_idx=None):
    """fairseq's `(num_positions, dim)` sinusoid table (tensor2tensor layout): M2M100, FSMT.

    Column `k < dim // 2` holds `sin(pos * w_k)`, column `dim // 2 + k` holds
    `cos(pos * w_k)`, with `w_k = exp(-k * log(10000) / (dim // 2 - 1))`; an
    odd `dim` gets a zero last column, and row `padding_idx` is zero. The
    frequencies and angles are rounded to float32 as the reference computes
    them; its float32 `exp` may still differ by one ulp in a frequency, which
    grows with the position (about `6e-8 * position` in the table), so the
    tables a checkpoint stores (FSMT) are loaded rather than recomputed.

    References:
        `transformers.models.m2m_100.modeling_m2m_100.M2M100SinusoidalPositionalEmbedding.get_embedding`,
        `transformers.models.fsmt.modeling_fsmt.SinusoidalPositionalEmbedding.get_embedding`.
    """
    half = dim // 2
    if half < 2:
        raise ValueError(f"fairseq_sinusoidal_table needs dim >= 4. Received: dim={dim}")
    frequencies = np.exp(np.arange(half) * -(np.log(10000.0) / (half - 1))).astype("float32")  # (half,)
    angles = np.arange(num_positions, dtype="float32")[:, None] * frequencies[None, :]  # float32, as the reference
    table = np.zeros((num_positions, dim), dtype="float32")
    table[:, :half] = np.sin(angles.astype("float64"))
    table[:, half:2 * half] = np.cos(angles.astype("float64"))
    if padding_idx is not None:
        table[padding_idx] = 0.0
    return table


def padding_offset_positions(input_ids, padding_idx, start=0, start_on_padding=False):
    """fairseq's position ids from token ids (`create_position_ids_from_input_ids`).

    Non-padding tokens are numbered `padding_idx + 1, + 2, ...` counting only
    non-padding tokens (plus `start`, the tokens already decoded with a
    cache); padding tokens get `padding_idx` (`padding_idx + start` with
    `start_on_padding`, FSMT's cached formula `make_positions(ids) + cache_length`).

    Args:
        input_ids: int tensor `(batch, seq_len)`.
        padding_idx: int, the padding token id.
        start: int or scalar int tensor, tokens before this call (cache index).
        start_on_padding: bool, add `start` to padding tokens' positions too.

    Returns:
        int32 tensor `(batch, seq_len)`.

    References:
        `transformers.models.roberta.modeling_roberta.create_position_ids_from_input_ids`
        (RoBERTa, M2M100); `transformers.models.fsmt.modeling_fsmt.SinusoidalPositionalEmbedding`.
    """
    not_pad = ops.cast(ops.not_equal(input_ids, padding_idx), "int32")
    start = ops.cast(start, "int32")
    if start_on_padding:
        return ops.cumsum(not_pad, axis=1) * not_pad + padding_idx + start
    return (ops.cumsum(not_pad, axis=1) + start) * not_pad + padding_idx


@keras.saving.register_keras_serializable(package="tfmodels")
class SinusoidalInitializer(keras.initializers.Initializer):
    """Initialises a `(num_positions, dim)` embedding table with `sinusoidal_table`.

    Used as `TransformerEmbeddings(position_initializer=...)`: checkpoints
    store the table, so loading overwrites it; freshly built models get the
    fixed encoding.

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"SinusoidalInitializer needs a 2-D shape (positions, dim). Received: shape={shape}")
        return ops.convert_to_tensor(sinusoidal_table(*shape), dtype=dtype or "float32")

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="tfmodels")
class FairseqSinusoidalInitializer(keras.initializers.Initializer):
    """Initialises a `(num_positions, dim)` table with `fairseq_sinusoidal_table` (FSMT stores its table).

    Args:
        padding_idx: int or None, the zero row.
    """

    def __init__(self, padding_idx=None):
        self.padding_idx = padding_idx

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError("FairseqSinusoidalInitializer needs a 2-D shape (positions, dim). "
                             f"Received: shape={shape}")
        return ops.convert_to_tensor(fairseq_sinusoidal_table(*shape, padding_idx=self.padding_idx),
                                     dtype=dtype or "float32")

    def get_config(self):
        return {"padding_idx": self.padding_idx}


def inverse_frequencies(dim, dtype="float32"):
    """`1 / 10000 ** (arange(0, dim, 2) / dim)`: shape `(dim // 2,)`."""
    freq = ops.cast(ops.arange(0, dim, 2), "float32")
    return ops.cast(1.0 / ops.power(10000.0, freq / float(dim)), dtype)


def sinusoidal_embeddings(positions, dim):
    """`concat([sin(p * inv_freq), cos(p * inv_freq)], -1)` for each position.

    Args:
        positions: float or int tensor `(P,)` of (relative) positions; may be
            negative.
        dim: int, even embedding width.

    Returns:
        float32 tensor `(P, dim)`.
    """
    positions = ops.cast(positions, "float32")
    sinusoid = positions[:, None] * inverse_frequencies(dim)[None, :]  # (P, dim / 2)
    return ops.concatenate([ops.sin(sinusoid), ops.cos(sinusoid)], axis=-1)


@keras.saving.register_keras_serializable(package="tfmodels")
class SinusoidalRelativeEmbedding(keras.layers.Layer):
    """Embeds relative distances `start, start - 1, ..., end + 1` with sinusoids.

    The layer Transformer-XL and XLNet use: position `p` gets
    `[sin(p w_0), ..., sin(p w_{d/2-1}), cos(p w_0), ...]`, `w_i = 10000^(-2i/d)`.
    Distances are optionally clamped to `clamp_len` (XLNet, Transformer-XL).

    Args:
        dim: int, even embedding width `D`.
        clamp_len: int or None; distances above it are clamped (`<= 0` = off).
        **kwargs: base layer arguments.

    Call args:
        positions: tensor `(P,)` of relative distances.

    Returns:
        tensor `(P, D)` in the layer's compute dtype.
    """

    def __init__(self, dim, clamp_len=None, **kwargs):
        super().__init__(**kwargs)
        if dim % 2:
            raise ValueError(f"SinusoidalRelativeEmbedding needs an even dim. Received: dim={dim}")
        self.dim = dim
        self.clamp_len = clamp_len

    def call(self, positions):
        positions = ops.cast(positions, "float32")
        if self.clamp_len is not None and self.clamp_len > 0:
            positions = ops.clip(positions, -float(self.clamp_len), float(self.clamp_len))
        return ops.cast(sinusoidal_embeddings(positions, self.dim), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "clamp_len": self.clamp_len}
