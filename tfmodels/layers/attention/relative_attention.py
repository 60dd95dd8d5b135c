"""Relative positional attention (Transformer-XL, XLNet) and the relative shift.

Size glossary: B batch, T query length, S key length (memory + current
segment), R number of relative distances, D model width, N heads, H head width.

Scores, all scaled by `1 / sqrt(H)` after the sum::

    ac = (q + r_w_bias) . k                       content
    bd = relative_shift((q + r_r_bias) . (r W_r)) position (r: sinusoids of distances)
    ef = (q + r_s_bias) . seg_embed[segment(i) != segment(j)]   XLNet only
    scores = (ac + bd + ef) * scale

Memory of previous segments (`mems`) is handled by the caller: keys and
values are computed from `concat([mems, h])`, passed as `value`.

References:
    Dai et al., "Transformer-XL: Attentive Language Models Beyond a Fixed-Length
    Context", ACL 2019. Yang et al., "XLNet: Generalized Autoregressive
    Pretraining for Language Understanding", NeurIPS 2019.
    Parity references: `transformers` `XLNetRelativeAttention`,
    `RelPartialLearnableMultiHeadAttn` (Transformer-XL, transformers < 4.36).
"""

import keras
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention


def relative_shift_gather(scores, context_len, shift=1):
    """Aligns scores over relative distances with key positions.

    `scores[b, n, i, r]` is the score of query `i` against distance index `r`
    (largest distance first); the result `[b, n, i, j]` picks, for each
    query, the distance between it and key `j` (the Transformer-XL trick:
    reshape, drop `shift` rows, reshape back, keep `context_len` columns).

    Args:
        scores: tensor `(B, N, T, R)`.
        context_len: int or scalar tensor, number of keys `S`.
        shift: 1, or 2 for Funnel's pooled queries.

    Returns:
        tensor `(B, N, T, S)`.
    """
    batch, heads, query_len, num_rel = (ops.shape(scores)[i] for i in range(4))
    scores = ops.reshape(scores, (batch, heads, num_rel, query_len))[:, :, shift:, :]
    scores = ops.reshape(scores, (batch, heads, query_len, num_rel - shift))
    return scores[..., :context_len]


@keras.saving.register_keras_serializable(package="tfmodels")
class RelativeAttention(MultiHeadAttention):
    """Multi-head attention with Transformer-XL relative positions (and XLNet segments).

    Args:
        num_heads: int, heads `N`.
        key_dim: int, head width `H`.
        segment_attention: bool, add XLNet's relative segment term (needs
            `r_s_bias` and `seg_embed`).
        relative_initializer: initializer of `r_kernel` and the biases.
        **kwargs: `MultiHeadAttention` arguments (XLNet and Transformer-XL use
            `use_bias=False`).

    Call args (besides `MultiHeadAttention`'s):
        position_embeds: float `(R, D)` or per example `(B, R, D)`: sinusoids
            of the distances `S, S-1, ..., S-R+1` (largest first).
        segment_mismatch: optional bool `(B, T, S)`, `True` where query and
            key are in different segments.

    Returns: as `MultiHeadAttention`.
    """

    def __init__(self, num_heads, key_dim, segment_attention=False, relative_initializer="zeros", **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        self.segment_attention = segment_attention
        self.relative_initializer = keras.initializers.get(relative_initializer)

    def build(self, query_shape, value_shape=None, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        n, h, d = self.num_heads, self.key_dim, query_shape[-1]

        def weight(name, shape):
            return self.add_weight(name=name, shape=shape, initializer=self.relative_initializer)

        self.r_kernel = weight("r_kernel", (d, n, h))
        self.r_w_bias = weight("r_w_bias", (n, h))
        self.r_r_bias = weight("r_r_bias", (n, h))
        if self.segment_attention:
            self.r_s_bias = weight("r_s_bias", (n, h))
            self.seg_embed = weight("seg_embed", (2, n, h))

    def _attention_scores(self, query, key, position_embeds=None, segment_mismatch=None, **kwargs):
        dtype = query.dtype
        scores = ops.einsum("btnh,bsnh->bnts", query + ops.cast(self.r_w_bias, dtype), key)  # ac
        if position_embeds is not None:
            r = ops.cast(position_embeds, dtype)
            kernel = ops.cast(self.r_kernel, dtype)
            q_r = query + ops.cast(self.r_r_bias, dtype)
            if len(r.shape) == 2:
                bd = ops.einsum("btnh,rnh->bntr", q_r, ops.einsum("rd,dnh->rnh", r, kernel))
            else:
                bd = ops.einsum("btnh,brnh->bntr", q_r, ops.einsum("brd,dnh->brnh", r, kernel))
            scores = scores + relative_shift_gather(bd, ops.shape(key)[1])
        if self.segment_attention and segment_mismatch is not None:
            ef = ops.einsum("btnh,snh->bnts", query + ops.cast(self.r_s_bias, dtype),
                            ops.cast(self.seg_embed, dtype))  # (B, N, T, 2)
            scores = scores + ops.where(segment_mismatch[:, None], ef[..., 1:2], ef[..., 0:1])
        return scores * ops.cast(self._scale, dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "segment_attention": self.segment_attention,
            "relative_initializer": keras.initializers.serialize(self.relative_initializer),
        }
