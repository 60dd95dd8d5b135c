"""Longformer attention: a sliding window around every token plus global tokens.

Size glossary (as in `multi_head_attention`, plus):
    S: sequence length (queries = keys)
    w: one-sided window, `attention_window // 2`
    C: number of query chunks, `S / w`
    G: global slots, at least the largest number of global tokens of an example

Every token attends to the `2w + 1` tokens around it (itself included) and
to every global token; a global token attends to every token, through its
own projections (`query_global`, `key_global`, `value_global`). The window
part is computed chunk by chunk: the `w` queries of chunk `c` against the
`3w` keys around them, so memory grows as `S * 3w`, never `S * S`. The
band is read out of each `(w, 3w)` chunk with a static pad-and-reshape
("skew"), the `_sliding_chunks_query_key_matmul` idea of the reference, so
every shape is static and the layer compiles with XLA.
"""

import math

import keras
import tensorflow as tf
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.masks import masked_softmax
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import clone_initializer


def _band_from_chunks(chunks, w):
    """`(..., w, 3w)` chunk scores -> `(..., w, 2w + 1)` band: `out[i, d] = chunks[i, i + d]`."""
    lead = ops.shape(chunks)[:-2]
    flat = ops.reshape(chunks, (*lead, w * 3 * w))
    flat = ops.pad(flat, [(0, 0)] * len(lead) + [(0, w)])  # (..., w * (3w + 1))
    return ops.reshape(flat, (*lead, w, 3 * w + 1))[..., : 2 * w + 1]


def _chunks_from_band(band, w):
    """Inverse of `_band_from_chunks`: `(..., w, 2w + 1)` -> `(..., w, 3w)`, zeros off the band."""
    lead = ops.shape(band)[:-2]
    padded = ops.pad(band, [(0, 0)] * (len(lead) + 1) + [(0, w)])  # (..., w, 3w + 1)
    flat = ops.reshape(padded, (*lead, w * (3 * w + 1)))[..., : w * 3 * w]
    return ops.reshape(flat, (*lead, w, 3 * w))


def _key_chunks(x, w):
    """`(B, S, ...)` -> `(B, C, 3w, ...)`: for query chunk `c`, the positions `[c*w - w, c*w + 2w)`, zero-padded."""
    pad = [(0, 0), (w, w)] + [(0, 0)] * (len(x.shape) - 2)
    blocks = ops.pad(x, pad)
    shape = ops.shape(blocks)
    blocks = ops.reshape(blocks, (shape[0], -1, w, *shape[2:]))  # (B, C + 2, w, ...)
    return ops.concatenate([blocks[:, :-2], blocks[:, 1:-1], blocks[:, 2:]], axis=2)


def global_token_slots(is_global, num_slots):
    """Positions of the global tokens of each example, in order, padded to `num_slots`.

    Args:
        is_global: bool tensor `(B, S)`.
        num_slots: int (or scalar int tensor) `G <= S`.

    Returns:
        `(indices, valid)`: int32 `(B, G)` positions (ascending; unused
        slots point at non-global positions) and bool `(B, G)`, True for the
        slots that hold a global token.
    """
    seq_len = ops.shape(is_global)[1]
    positions = ops.arange(seq_len, dtype="int32")[None, :]
    order = ops.where(is_global, positions, positions + seq_len)  # globals first, each group by position
    _, indices = tf.math.top_k(-order, k=num_slots, sorted=True)
    count = ops.sum(ops.cast(is_global, "int32"), axis=1, keepdims=True)
    valid = ops.arange(num_slots, dtype="int32")[None, :] < count
    return ops.cast(indices, "int32"), valid


@keras.saving.register_keras_serializable(package="tfmodels")
class LongformerSelfAttention(MultiHeadAttention):
    """Sliding-window + global self-attention (Longformer), memory `O(S * (w + G))`.

    The `MultiHeadAttention` projections (`query_dense`, `key_dense`,
    `value_dense`, `output_dense`) serve the window attention; three more,
    `query_global_dense`, `key_global_dense`, `value_global_dense`, serve the
    rows of the global tokens. As in the reference:

    - a token attends to the non-global, non-padding keys within `w` of it and
      to every global token (the global keys use the window projections);
    - a global token's output is its attention over every non-padding token
      with the global projections;
    - padding queries get all-zero probabilities.

    Args:
        num_heads: int, attention heads `N`.
        key_dim: int, features per head `H`.
        attention_window: int, even and positive: the window `2w` (tokens
            attended on both sides together).
        **kwargs: `MultiHeadAttention` arguments (`dropout`, `use_bias`,
            `kernel_initializer`, ...); `scale` defaults to `1 / sqrt(key_dim)`
            and is applied to the queries, as in the reference.

    Call args:
        query: float tensor `(B, S, D)` (self-attention only).
        attention_mask: optional `(B, S)` bool/0-1 padding mask, True = token.
        global_attention_mask: optional `(B, S)` bool/0-1, True = global token.
        num_global_slots: static int `G` (or scalar int tensor outside XLA):
            global slots computed; at least the largest number of global tokens
            of an example (extra slots get zero window probability and uniform
            global rows, as the reference's slots for examples with fewer global
            tokens). Default: 0 without `global_attention_mask`, else the number
            of global tokens when eager, `S` in a graph. `0` skips the global part.
        return_attention_scores: bool, also return the probabilities.
        training: bool, enables dropout.

    Returns:
        `output` `(B, S, output_dim)`; with `return_attention_scores`, the tuple
        `(output, (attentions, global_attentions))`: `attentions` `(B, N, S,
        G + 2w + 1)`, the probabilities over the `G` global keys then over
        the window `-w .. w` (zero rows for global and padding queries), and
        `global_attentions` `(B, N, S, G)`, the global tokens' probabilities over
        every key (`None` when `G == 0`).

    Raises:
        ValueError: for an odd or non-positive `attention_window`, a mask of
            another rank than 2, or other attention arguments (`value`,
            `cache`, `attention_bias`, ...).

    References:
        Beltagy et al., "Longformer: The Long-Document Transformer", 2020.
        Parity reference: `transformers.models.longformer.modeling_longformer.LongformerSelfAttention`.
    """

    def __init__(self, num_heads, key_dim, attention_window, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        if not isinstance(attention_window, int) or attention_window <= 0 or attention_window % 2:
            raise ValueError(f"attention_window must be a positive even int. Received: attention_window={attention_window!r}")
        self.attention_window = attention_window

    def build(self, query_shape):
        super().build(query_shape)
        n, h = self.num_heads, self.key_dim
        self.query_global_dense = self._dense("btd,dnh->btnh", (None, n, h), "nh", "query_global")
        self.query_global_dense.build(query_shape)
        self.key_global_dense = self._dense("bsd,dnh->bsnh", (None, n, h), "nh", "key_global")
        self.key_global_dense.build(query_shape)
        self.value_global_dense = self._dense("bsd,dnh->bsnh", (None, n, self.value_dim), "nh", "value_global")
        self.value_global_dense.build(query_shape)

    def _scale_query(self, q):
        if self.scale is None:  # the reference divides by sqrt(head_dim)
            return q / ops.cast(math.sqrt(self.key_dim), q.dtype)
        return q * ops.cast(self.scale, q.dtype)

    @staticmethod
    def _bool_mask(mask, name):
        mask = ops.convert_to_tensor(mask)
        if len(mask.shape) != 2:
            raise ValueError(f"LongformerSelfAttention takes a (batch, seq_len) `{name}`. "
                             f"Received: {name} with shape {tuple(mask.shape)}.")
        return mask if mask.dtype == "bool" else ops.not_equal(mask, 0)

    def call(self, query, attention_mask=None, global_attention_mask=None, num_global_slots=None,
             return_attention_scores=False, training=None, **kwargs):
        unsupported = sorted(k for k, v in kwargs.items() if v is not None)
        if unsupported:
            raise ValueError(f"LongformerSelfAttention is bidirectional self-attention without a KV cache or bias; "
                             f"it does not take {unsupported}.")
        w = self.attention_window // 2
        batch_size, seq_len = ops.shape(query)[0], ops.shape(query)[1]
        token = ops.ones((batch_size, seq_len), "bool") if attention_mask is None else self._bool_mask(
            attention_mask, "attention_mask")
        is_global = ops.zeros_like(token) if global_attention_mask is None else self._bool_mask(
            global_attention_mask, "global_attention_mask")
        is_global = ops.logical_and(is_global, token)
        if num_global_slots is None and global_attention_mask is None:
            num_global_slots = 0
        elif num_global_slots is None:
            num_global_slots = (int(ops.max(ops.sum(ops.cast(is_global, "int32"), axis=1)))
                                if tf.executing_eagerly() else seq_len)

        # Pad to a multiple of w (a no-op inside LongformerModel, which pads to the largest window).
        pad = (-seq_len) % w
        x = ops.pad(query, [(0, 0), (0, pad), (0, 0)])
        token = ops.pad(token, [(0, 0), (0, pad)], constant_values=False)
        is_global = ops.pad(is_global, [(0, 0), (0, pad)], constant_values=False)
        padded_len = ops.shape(x)[1]

        q = self._scale_query(self.query_dense(x))  # (B, S, N, H)
        k = self.key_dense(x)
        v = self.value_dense(x)

        # Window scores, chunk by chunk: (B, N, C, w, 3w) -> band (B, N, S, 2w + 1).
        q_chunks = ops.reshape(q, (batch_size, -1, w, self.num_heads, self.key_dim))  # (B, C, w, N, H)
        chunk_scores = ops.einsum("bcinh,bcjnh->bncij", q_chunks, _key_chunks(k, w))
        band = ops.reshape(_band_from_chunks(chunk_scores, w), (batch_size, self.num_heads, padded_len, 2 * w + 1))
        # Key j = query + d - w is attended when it is a non-global token (out of range: padded False).
        key_ok = ops.pad(ops.logical_and(token, ops.logical_not(is_global)), [(0, 0), (w, w)], constant_values=False)
        window_index = ops.arange(padded_len)[:, None] + ops.arange(2 * w + 1)[None, :]  # (S, 2w + 1)
        band_mask = ops.take(key_ok, window_index, axis=1)[:, None]  # (B, 1, S, 2w + 1)

        with_global = not isinstance(num_global_slots, int) or num_global_slots > 0
        if with_global:
            if isinstance(num_global_slots, int) and isinstance(padded_len, int):
                num_global_slots = min(num_global_slots, padded_len)
            indices, valid = global_token_slots(is_global, num_global_slots)  # (B, G)
            k_global = tf.gather(k, indices, batch_dims=1)  # (B, G, N, H)
            global_key_scores = ops.einsum("bsnh,bgnh->bnsg", q, k_global)  # (B, N, S, G)
            scores = ops.concatenate([global_key_scores, ops.cast(band, global_key_scores.dtype)], axis=-1)
            mask = ops.concatenate([ops.broadcast_to(valid[:, None, None, :], ops.shape(global_key_scores)),
                                    ops.broadcast_to(band_mask, ops.shape(band))], axis=-1)
        else:
            scores, mask = band, band_mask
        probs = masked_softmax(scores, mask)
        probs = ops.where(token[:, None, :, None], probs, ops.zeros_like(probs))  # padding queries: zeros
        dropped = self.dropout_layer(probs, training=training)

        local = dropped[..., -(2 * w + 1):] if with_global else dropped
        local = ops.reshape(local, (batch_size, self.num_heads, -1, w, 2 * w + 1))  # (B, N, C, w, 2w + 1)
        context = ops.einsum("bncij,bcjnh->bcinh", _chunks_from_band(local, w), _key_chunks(ops.cast(v, local.dtype), w))
        context = ops.reshape(context, (batch_size, padded_len, self.num_heads, self.value_dim))  # (B, S, N, H)

        global_probs = None
        if with_global:
            v_global = tf.gather(v, indices, batch_dims=1)  # (B, G, N, H)
            context = context + ops.einsum("bnsg,bgnh->bsnh", dropped[..., : ops.shape(indices)[1]],
                                           ops.cast(v_global, dropped.dtype))
            # Rows of the global tokens: global projections, attention over every token.
            hidden_global = tf.gather(x, indices, batch_dims=1)  # (B, G, D)
            hidden_global = ops.where(valid[:, :, None], hidden_global, ops.zeros_like(hidden_global))
            q_global = self._scale_query(self.query_global_dense(hidden_global))  # (B, G, N, H)
            k_all = self.key_global_dense(x)
            v_all = self.value_global_dense(x)
            global_scores = ops.einsum("bgnh,bsnh->bngs", q_global, k_all)  # (B, N, G, S)
            global_mask = ops.logical_and(valid[:, None, :, None], token[:, None, None, :])
            global_probs = masked_softmax(global_scores, global_mask)
            global_context = ops.einsum("bngs,bsnh->bgnh", self.dropout_layer(global_probs, training=training),
                                        ops.cast(v_all, global_probs.dtype))  # (B, G, N, H)
            slot = ops.maximum(ops.cumsum(ops.cast(is_global, "int32"), axis=1) - 1, 0)  # (B, S)
            from_global = tf.gather(global_context, slot, batch_dims=1)  # (B, S, N, H)
            context = ops.where(is_global[:, :, None, None], ops.cast(from_global, context.dtype), context)
            probs = ops.where(is_global[:, None, :, None], ops.zeros_like(probs), probs)
            global_probs = ops.transpose(global_probs, (0, 1, 3, 2))[:, :, :seq_len]  # (B, N, S, G)

        output = self.output_dense(context)[:, :seq_len]  # (B, S, output_dim)
        if not return_attention_scores:
            return output
        return output, (probs[:, :, :seq_len], global_probs)

    def compute_output_shape(self, query_shape):
        return super().compute_output_shape(query_shape)

    def get_config(self):
        return {**super().get_config(), "attention_window": self.attention_window}


@keras.saving.register_keras_serializable(package="tfmodels")
class LongformerEncoderBlock(TransformerEncoderBlock):
    """`TransformerEncoderBlock` (post-norm, BERT layout) with `LongformerSelfAttention`.

    Args:
        attention_window: int, even: this layer's window `2w`.
        **kwargs: `TransformerEncoderBlock` arguments.

    Call args:
        x: float tensor `(batch, seq_len, hidden_size)`; `attention_mask`,
        `global_attention_mask` and `num_global_slots` go to the attention (see
        `LongformerSelfAttention`).

    Returns:
        as `TransformerEncoderBlock`; with `return_attention_scores`, the
        probabilities item is the pair `(attentions, global_attentions)`.

    References:
        Parity reference: `transformers.models.longformer.modeling_longformer.LongformerLayer`.
    """

    def __init__(self, attention_window=512, **kwargs):
        super().__init__(**kwargs)
        self.attention_window = attention_window

    def _make_attention(self, hidden_size):
        return LongformerSelfAttention(
            num_heads=self.num_heads,
            key_dim=self.key_dim or hidden_size // self.num_heads,
            attention_window=self.attention_window,
            dropout=self.attention_dropout,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
        )

    def call(self, x, attention_mask=None, global_attention_mask=None, num_global_slots=None,
             return_attention_scores=False, training=None):
        # Named arguments: Keras refuses a `**kwargs` mixing tensors and ints.
        return super().call(x, attention_mask=attention_mask, return_attention_scores=return_attention_scores,
                            training=training, global_attention_mask=global_attention_mask,
                            num_global_slots=num_global_slots)

    def get_config(self):
        return {**super().get_config(), "attention_window": self.attention_window}
