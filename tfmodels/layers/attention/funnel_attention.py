"""Funnel-Transformer relative multi-head attention.

Size glossary: B batch, T query length, S key length, D model width,
N heads, H head width, R number of relative distances.

Scores (all scaled by `1 / sqrt(H)`)::

    content    = (q + r_w_bias) . k
    positional = (q + r_r_bias) . (r W_r)        relative shift or factorized form
    token_type = (q + r_s_bias) . seg_embed[same segment?]
    scores     = content + positional * cls_mask + token_type * cls_mask
    scores     = float32(scores) - 1e6 * (1 - key_mask)      (with `key_mask`)

Masking follows the reference exactly: padded keys get `-1e6` added rather
than being excluded, so a query whose keys are all padding (pooled padding
positions) still softmaxes over its raw scores, as in `transformers`. Pass
the 0/1 key mask as `key_mask` instead of a boolean `attention_mask`.

References:
    Dai et al., "Funnel-Transformer", NeurIPS 2020, appendix A.2.
    Parity reference: `transformers.models.funnel.modeling_funnel.FunnelRelMultiheadAttention`.
"""

import keras
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.attention.relative_attention import relative_shift_gather

ATTENTION_TYPES = ("relative_shift", "factorized")
REFERENCE_MASK_VALUE = 1e6  # `INF` in the reference implementation


@keras.saving.register_keras_serializable(package="tfmodels")
class FunnelRelativeAttention(MultiHeadAttention):
    """Multi-head attention with Funnel's relative position and segment terms.

    The query projection has no bias (keys and values do).

    Args:
        num_heads: int, heads `N`.
        key_dim: int, head width `H`.
        attention_type: `"relative_shift"` or `"factorized"`.
        relative_initializer: initializer of `r_w_bias`, `r_r_bias`,
            `r_kernel`, `r_s_bias` and `seg_embed`.
        **kwargs: `MultiHeadAttention` arguments.

    Call args (besides `MultiHeadAttention`'s):
        position_embeds: relative_shift: pair `(within (R, D), pooling (R', D))`,
            the second used when `T != S`; factorized: `(phi, pi, psi, omega)`
            with `phi, pi` `(T, D)` and `psi, omega` `(S, D)`.
        token_type_mat: optional bool `(B, T, S)`, `True` for the same segment.
        cls_mask: optional float `(T, S)`, zero on the [CLS] row and column.
        key_mask: optional float `(B, S)` of 0/1 (1 = attend), applied as
            the reference's additive `-1e6` in float32.
    """

    def __init__(self, num_heads, key_dim, attention_type="relative_shift", relative_initializer="zeros",
                 **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type must be one of {ATTENTION_TYPES}. Received: {attention_type!r}")
        self.attention_type = attention_type
        self.relative_initializer = keras.initializers.get(relative_initializer)

    def _dense(self, equation, output_shape, bias_axes, name, use_bias=None):
        return super()._dense(equation, output_shape, None if name == "query" else bias_axes, name, use_bias)

    def build(self, query_shape, value_shape=None, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        n, h, d = self.num_heads, self.key_dim, query_shape[-1]

        def weight(name, shape):
            return self.add_weight(name=name, shape=shape, initializer=self.relative_initializer)

        self.r_w_bias = weight("r_w_bias", (n, h))
        self.r_r_bias = weight("r_r_bias", (n, h))
        self.r_kernel = weight("r_kernel", (d, n, h))
        self.r_s_bias = weight("r_s_bias", (n, h))
        self.seg_embed = weight("seg_embed", (2, n, h))

    def _positional_scores(self, q, position_embeds, context_len):
        bias = ops.cast(self.r_r_bias, q.dtype) * ops.cast(self._scale, q.dtype)
        kernel = ops.cast(self.r_kernel, q.dtype)
        if self.attention_type == "factorized":
            phi, pi, psi, omega = (ops.cast(t, q.dtype) for t in position_embeds)
            q_r = ops.einsum("btnh,dnh->btnd", q + bias, kernel)  # (B, T, N, D)
            return ops.einsum("btnd,sd->bnts", q_r * phi[:, None], psi) + ops.einsum(
                "btnd,sd->bnts", q_r * pi[:, None], omega
            )
        shift = 2 if q.shape[1] != context_len else 1
        r = ops.cast(position_embeds[shift - 1], q.dtype)  # (R, D)
        r_head = ops.einsum("rd,dnh->rnh", r, kernel)
        scores = ops.einsum("btnh,rnh->bntr", q + bias, r_head)  # (B, N, T, R)
        return relative_shift_gather(scores, context_len, shift)

    def _attention_scores(self, query, key, position_embeds=None, token_type_mat=None, cls_mask=None,
                          key_mask=None, **kwargs):
        scale = ops.cast(self._scale, query.dtype)
        q = query * scale  # (B, T, N, H)
        scores = ops.einsum("btnh,bsnh->bnts", q + ops.cast(self.r_w_bias, q.dtype) * scale, key)
        if cls_mask is not None:
            cls_mask = ops.cast(cls_mask, q.dtype)
        if position_embeds is not None:
            positional = self._positional_scores(q, position_embeds, key.shape[1])
            scores = scores + (positional * cls_mask if cls_mask is not None else positional)
        if token_type_mat is not None:
            seg_bias = ops.cast(self.r_s_bias, q.dtype) * scale
            bias = ops.einsum("btnh,snh->bnts", q + seg_bias, ops.cast(self.seg_embed, q.dtype))  # (B, N, T, 2)
            token_type = ops.where(token_type_mat[:, None], bias[..., 1:2], bias[..., 0:1])
            scores = scores + (token_type * cls_mask if cls_mask is not None else token_type)
        if key_mask is not None:
            key_mask = ops.cast(key_mask, "float32")[:, None, None, :]  # (B, 1, 1, S)
            scores = ops.cast(scores, "float32") - REFERENCE_MASK_VALUE * (1.0 - key_mask)
        return scores

    def get_config(self):
        return {
            **super().get_config(),
            "attention_type": self.attention_type,
            "relative_initializer": keras.initializers.serialize(self.relative_initializer),
        }
