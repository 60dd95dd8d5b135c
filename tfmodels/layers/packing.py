"""Packed tokens: a padded batch's real tokens as one row, so position-wise layers skip the padding.

In an encoder block every layer but the attention core works on each token on
its own: the query/key/value and output projections, the feed-forward, the
norms and residuals. On a padded batch `(batch, seq_len, hidden_size)` they
spend the padding's share of their FLOPs on positions whose results nobody
reads. `TokenPacking` gathers the real tokens into `(1, tokens, hidden_size)`
(row-major order, `tokens` = the number of nonzero `attention_mask` entries);
the blocks run packed, and `MultiHeadAttention` scatters its projected
queries, keys and values back to `(batch, seq_len, heads, head_dim)` for the
attention core only, then packs the context again. Every real token's result
is the same sum as in the padded layout (float32: equal to rounding, checked
against `transformers` in `tests/test_packed_tokens.py`); padded positions
come out as zeros.

The number of real tokens is data-dependent, so packing runs where shapes may
be dynamic: eagerly and in `tf.function` graphs, not under `jit_compile=True`
(see `EncoderModel.use_packed_tokens`).
"""

import tensorflow as tf


class TokenPacking:
    """Where a padded batch's real tokens are.

    Attributes:
        indices: int32 `(tokens,)`, each real token's flat position
            `b * seq_len + s`, in row-major order.
        batch_size: int32 scalar tensor.
        seq_len: int32 scalar tensor.
        static_shape: `(batch, seq_len)` as far as known while tracing
            (ints or None), given to unpacked tensors.

    A plain object (not a tuple of tensors), so Keras passes it through layer
    calls as one argument.
    """

    def __init__(self, indices, batch_size, seq_len, static_shape=(None, None)):
        self.indices = indices
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.static_shape = tuple(static_shape)

    @classmethod
    def from_attention_mask(cls, attention_mask):
        """Packing of the nonzero entries of `attention_mask` `(batch, seq_len)` (bool or 0/1 numbers).

        Raises:
            ValueError: if `attention_mask` is not 2-D.
        """
        attention_mask = tf.convert_to_tensor(attention_mask)
        if attention_mask.shape.rank != 2:
            raise ValueError("Packed tokens need a padding mask of shape (batch, seq_len). "
                             f"Received: attention_mask of shape {attention_mask.shape}")
        shape = tf.shape(attention_mask, out_type=tf.int32)
        flat = tf.reshape(tf.not_equal(attention_mask, tf.zeros((), attention_mask.dtype)), [-1])
        indices = tf.cast(tf.where(flat)[:, 0], tf.int32)
        return cls(indices, shape[0], shape[1], tuple(attention_mask.shape))

    def pack(self, x):
        """`(batch, seq_len, ...)` -> `(1, tokens, ...)`, the real tokens only."""
        flat = tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))
        packed = tf.gather(flat, self.indices)[None]
        packed.set_shape([1, None, *x.shape[2:]])
        return packed

    def unpack(self, x):
        """`(1, tokens, ...)` -> `(batch, seq_len, ...)`, zeros at padded positions."""
        rest = tf.shape(x)[2:]
        rows = self.batch_size * self.seq_len
        flat = tf.scatter_nd(self.indices[:, None], x[0], tf.concat([[rows], rest], 0))
        padded = tf.reshape(flat, tf.concat([[self.batch_size, self.seq_len], rest], 0))
        padded.set_shape([*self.static_shape, *x.shape[2:]])
        return padded
