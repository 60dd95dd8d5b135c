"""Packed tokens: a padded batch's real tokens as one row, so position-wise layers skip the padding.

In an encoder block every layer but the attention core works on each token on
its own: the query/key/value and output projections, the feed-forward, the
norms and residuals. On a padded batch `(batch, seq_len, hidden_size)` they
spend the padding's share of their FLOPs on positions whose results nobody
reads. `TokenPacking` gathers the real tokens into `(1, tokens, hidden_size)`
(row-major order, `tokens` = the number of nonzero `attention_mask` entries);
the blocks run packed, and `MultiHeadAttention` gathers its projected
queries, keys and values into the padded layout for the attention core only
(head-major `(batch, heads, seq_len, head_dim)`, the layout the attention
matmuls read, when the layer keeps the default scoring hooks), then packs
the context again. Every real token's result
is the same sum as in the padded layout (float32: equal to rounding, checked
against `transformers` in `tests/test_packed_tokens.py`); padded positions
come out as zeros.

The number of real tokens is data-dependent, so packing pays where shapes may
be dynamic: eagerly and in `tf.function` graphs. Under `jit_compile=True` it
compiles, but XLA sizes the data-dependent token count by its upper bound
(every position), so it saves nothing there (see
`PreTrainedModel.use_packed_tokens`).
"""

import tensorflow as tf


class TokenPacking:
    """Where a padded batch's real tokens are, and how to pack and unpack them.

    Attributes:
        gather_indices: int32 `(packed,)`, the flat position `b * seq_len + s`
            of each packed row: the real tokens in row-major order, then (with
            `multiple`, or for a batch without real tokens) filler rows that
            repeat position 0.
        scatter_indices: int32 `(packed,)`, where `unpack` writes each packed
            row: the same positions, filler rows to a scratch row past the
            batch that is dropped.
        padded_rows: int32 `(batch * seq_len,)`, the packed row of each flat
            position; a padded position takes the row of the last real token
            before it in row-major order (row 0 when there is none), so
            gathers never read out of range.
        batch_size: int32 scalar tensor.
        seq_len: int32 scalar tensor.
        static_shape: `(batch, seq_len)` as far as known while tracing
            (ints or None), given to unpacked tensors.

    A plain object (not a tuple of tensors), so Keras passes it through layer
    calls as one argument.
    """

    def __init__(self, gather_indices, scatter_indices, padded_rows, batch_size, seq_len, static_shape=(None, None)):
        self.gather_indices = gather_indices
        self.scatter_indices = scatter_indices
        self.padded_rows = padded_rows
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.static_shape = tuple(static_shape)
        self._head_indices = {}  # num_heads -> (unpack index (B, N, S), pack index (packed, N)), built once per call

    @classmethod
    def from_attention_mask(cls, attention_mask, multiple=1):
        """Packing of the nonzero entries of `attention_mask` `(batch, seq_len)` (bool or 0/1 numbers).

        Args:
            attention_mask: `(batch, seq_len)` tensor, nonzero = real token.
            multiple: int, the packed row count is rounded up to a multiple of
                it with filler rows, so batches of similar token counts share
                the matmul shapes oneDNN compiles (and caches) per shape.

        Raises:
            ValueError: if `attention_mask` is not 2-D or `multiple < 1`.
        """
        attention_mask = tf.convert_to_tensor(attention_mask)
        if attention_mask.shape.rank != 2:
            raise ValueError("Packed tokens need a padding mask of shape (batch, seq_len). "
                             f"Received: attention_mask of shape {attention_mask.shape}")
        if not isinstance(multiple, int) or multiple < 1:
            raise ValueError(f"multiple must be a positive int. Received: multiple={multiple!r}")
        shape = tf.shape(attention_mask, out_type=tf.int32)
        flat = tf.reshape(tf.not_equal(attention_mask, tf.zeros((), attention_mask.dtype)), [-1])
        indices = tf.cast(tf.where(flat)[:, 0], tf.int32)
        count = tf.shape(indices)[0]
        # Filler rows up to a multiple of `multiple`, and one row for a batch of padding only (so the attention
        # core has a row to gather). Selected with `tf.where` rather than sized with `tf.fill`, so XLA compiles it.
        extra = tf.where(count == 0, multiple, (-count) % multiple)
        filler = tf.cast(tf.where(tf.range(multiple) < extra)[:, 0], tf.int32) * 0
        gather_indices = tf.concat([indices, filler], 0)
        scatter_indices = tf.concat([indices, filler + shape[0] * shape[1]], 0)
        padded_rows = tf.maximum(tf.cumsum(tf.cast(flat, tf.int32)) - 1, 0)
        return cls(gather_indices, scatter_indices, padded_rows, shape[0], shape[1], tuple(attention_mask.shape))

    def pack(self, x):
        """`(batch, seq_len, ...)` -> `(1, packed, ...)`, the real tokens (and filler rows)."""
        flat = tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))
        packed = tf.gather(flat, self.gather_indices)[None]
        packed.set_shape([1, None, *x.shape[2:]])
        return packed

    def unpack(self, x, zeros=True):
        """`(1, packed, ...)` -> `(batch, seq_len, ...)`.

        Args:
            x: `(1, packed, ...)` tensor.
            zeros: bool. True: padded positions are zeros (a scatter). False:
                each padded position holds a copy of some real token's row
                (a gather, about 3x cheaper on CPU), for tensors whose padded
                positions the attention mask hides (keys, values) or whose
                padded rows are dropped again (queries).
        """
        rest = tf.shape(x)[2:]
        if zeros:
            rows = self.batch_size * self.seq_len
            flat = tf.scatter_nd(self.scatter_indices[:, None], x[0], tf.concat([[rows + 1], rest], 0))[:rows]
        else:
            flat = tf.gather(x[0], self.padded_rows)
        padded = tf.reshape(flat, tf.concat([[self.batch_size, self.seq_len], rest], 0))
        padded.set_shape([*self.static_shape, *x.shape[2:]])
        return padded

    def _indices_for_heads(self, num_heads):
        if num_heads not in self._head_indices:
            heads = tf.range(num_heads, dtype=tf.int32)
            rows = tf.reshape(self.padded_rows, [self.batch_size, self.seq_len, 1]) * num_heads + heads
            batch, position = self.gather_indices // self.seq_len, self.gather_indices % self.seq_len
            self._head_indices[num_heads] = (
                tf.transpose(rows, [0, 2, 1]),  # (B, N, S): row of (packed row, head) in `(packed * N, H)`
                (batch[:, None] * num_heads + heads) * self.seq_len + position[:, None],  # (packed, N) into (B*N*S, H)
            )
        return self._head_indices[num_heads]

    def unpack_heads(self, x):
        """`(1, packed, heads, head_dim)` -> head-major `(batch, heads, seq_len, head_dim)`, in one gather.

        Unpacking and the transpose to the layout of the attention matmuls
        in one op. Padded positions hold copies of real tokens' rows, as with
        `unpack(..., zeros=False)`.
        """
        heads, head_dim = x.shape[2], x.shape[3]
        flat = tf.reshape(x, [-1, head_dim])  # (packed * N, H)
        padded = tf.gather(flat, self._indices_for_heads(heads)[0])
        padded.set_shape([self.static_shape[0], heads, self.static_shape[1], head_dim])
        return padded

    def pack_heads(self, x):
        """Head-major `(batch, heads, seq_len, head_dim)` -> `(1, packed, heads, head_dim)`, in one gather."""
        heads, head_dim = x.shape[1], x.shape[3]
        packed = tf.gather(tf.reshape(x, [-1, head_dim]), self._indices_for_heads(heads)[1])[None]
        packed.set_shape([1, None, heads, head_dim])
        return packed
