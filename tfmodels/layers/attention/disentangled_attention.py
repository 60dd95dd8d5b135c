"""DeBERTa disentangled attention: content-to-position and position-to-content terms.

Size glossary: B batch, T query length, S key length (= T: self-attention),
N heads, H head size, D hidden size, P = 2 * span rows of the relative
embedding table.
"""

import math

import keras
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import clone_initializer

POSITION_ATTENTION_TYPES = ("c2p", "p2c")


def _gather_last(scores, index):
    """`out[b, n, i, j] = scores[b, n, i, index[i, j]]`; scores `(B, N, I, P)`, index `(I, J)`."""
    shape = ops.shape(scores)
    index = ops.broadcast_to(index[None, None], (shape[0], shape[1], ops.shape(index)[0], ops.shape(index)[1]))
    return ops.take_along_axis(scores, index, axis=-1)


@keras.saving.register_keras_serializable(package="tfmodels")
class DisentangledAttention(MultiHeadAttention):
    """Multi-head attention with DeBERTa's disentangled relative-position terms.

    Scores are `(Q K^T + c2p + p2c) / sqrt(H * (1 + len(pos_att_type)))` where,
    with `R` the relative embedding table `(P, D)` and `delta(i, j)` the
    (bucketed, clipped) relative position `i - j` shifted into `[0, P)`:

    - content-to-position `c2p[i, j] = Q_i . K^r_{delta(i, j)}`, `K^r = R W_k^r`;
    - position-to-content `p2c[i, j] = K_j . Q^r_{delta(j, i)}`, `Q^r = R W_q^r`.

    With `share_att_key=True` (DeBERTa-v2/v3) `W_k^r`, `W_q^r` are the content
    key/query projections; otherwise they are separate (`pos_key_dense`,
    `pos_query_dense`). DeBERTa v1 (`dynamic_span=True`) scales the query
    before the c2p term, has no key bias and uses a span that shrinks to the
    sequence length: `span = min(seq_len, max_relative_positions)`.

    Args:
        num_heads: see `MultiHeadAttention`.
        key_dim: see `MultiHeadAttention`.
        pos_att_type: sequence of `"c2p"` / `"p2c"`.
        relative_attention: bool; without it only the scale uses `pos_att_type`.
        position_buckets: int; `> 0`: the table has `2 * position_buckets` rows.
        max_relative_positions: int, table half-size when not bucketed.
        share_att_key: bool, reuse the content projections for positions.
        position_dropout: float, dropout on the relative embeddings.
        dynamic_span: bool, DeBERTa v1 span/scaling rules.
        **kwargs: `MultiHeadAttention` arguments (`dropout`, `use_bias`,
            `kernel_initializer`, ...; the scale is fixed by `pos_att_type`).

    Call args (besides `MultiHeadAttention`'s):
        relative_pos: int tensor `(T, S)` of signed (bucketed) `i - j`, computed
            once per model (`tfmodels.layers.position.relative`).
        rel_embeddings: float tensor `(P, D)`, the (normalised) relative
            embedding table shared by all layers.

    Returns:
        Like `MultiHeadAttention`: `(B, T, D)` and optionally the
        probabilities `(B, N, T, S)`.

    References:
        He et al., "DeBERTa: Decoding-enhanced BERT with Disentangled
        Attention", ICLR 2021. Parity references:
        `transformers.models.deberta_v2.modeling_deberta_v2.DisentangledSelfAttention`,
        `transformers.models.deberta.modeling_deberta.DisentangledSelfAttention`.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        pos_att_type=("c2p", "p2c"),
        relative_attention=True,
        position_buckets=-1,
        max_relative_positions=512,
        share_att_key=False,
        position_dropout=0.0,
        dynamic_span=False,
        **kwargs,
    ):
        pos_att_type = tuple(pos_att_type or ())
        unknown = [t for t in pos_att_type if t not in POSITION_ATTENTION_TYPES]
        if unknown:
            raise ValueError(f"pos_att_type entries must be 'c2p' or 'p2c'. Received: pos_att_type={pos_att_type}")
        kwargs.pop("scale", None)
        super().__init__(num_heads, key_dim, scale=None, **kwargs)
        self.pos_att_type = pos_att_type
        self.relative_attention = relative_attention
        self.position_buckets = position_buckets
        self.max_relative_positions = max_relative_positions
        self.share_att_key = share_att_key
        self.position_dropout = position_dropout
        self.dynamic_span = dynamic_span
        self._scale_factor = 1 + len(pos_att_type)
        self._scale = 1.0 / math.sqrt(key_dim * self._scale_factor)
        self.span = position_buckets if position_buckets > 0 else max_relative_positions

    def _dense(self, equation, output_shape, bias_axes, name, use_bias=None):
        if self.dynamic_span and name in ("key", "pos_key"):
            bias_axes = None  # DeBERTa v1: `in_proj` has only q/v biases, `pos_proj` none.
        return super()._dense(equation, output_shape, bias_axes, name, use_bias=use_bias)

    def build(self, query_shape, value_shape=None, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        self.position_dropout_layer = keras.layers.Dropout(self.position_dropout, dtype=self.dtype_policy)
        self.pos_key_dense = self.pos_query_dense = None
        if self.relative_attention and not self.share_att_key:
            n, h = self.num_heads, self.key_dim
            rel_shape = (None, None, query_shape[-1])
            if "c2p" in self.pos_att_type:
                self.pos_key_dense = self._dense("bpd,dnh->bpnh", (None, n, h), "nh", "pos_key")
                self.pos_key_dense.build(rel_shape)
            if "p2c" in self.pos_att_type:
                self.pos_query_dense = self._dense("bpd,dnh->bpnh", (None, n, h), "nh", "pos_query")
                self.pos_query_dense.build(rel_shape)

    def call(self, query, value=None, key=None, attention_mask=None, attention_bias=None, cache=None,
             cache_update_index=None, return_attention_scores=False, training=None, rel_embeddings=None,
             relative_pos=None, **kwargs):
        if self.relative_attention:
            if rel_embeddings is None or relative_pos is None:
                raise ValueError(
                    "DisentangledAttention(relative_attention=True) needs `rel_embeddings` and `relative_pos`. "
                    f"Received: rel_embeddings={rel_embeddings}, relative_pos={relative_pos}"
                )
            rel_embeddings = self.position_dropout_layer(rel_embeddings, training=training)
            kwargs.update(rel_embeddings=rel_embeddings, relative_pos=relative_pos)
        return super().call(
            query, value=value, key=key, attention_mask=attention_mask, attention_bias=attention_bias,
            cache=cache, cache_update_index=cache_update_index,
            return_attention_scores=return_attention_scores, training=training, **kwargs,
        )

    def _attention_scores(self, query, key, rel_embeddings=None, relative_pos=None, **kwargs):
        scale = ops.cast(self._scale, query.dtype)
        if self.dynamic_span:
            query = query * scale
            scores = ops.einsum("btnh,bsnh->bnts", query, key)
        else:
            scores = ops.einsum("btnh,bsnh->bnts", query, key) * scale
        if not self.relative_attention:
            return scores
        return scores + self._position_scores(query, key, rel_embeddings, relative_pos, scale)

    def _position_scores(self, query, key, rel_embeddings, relative_pos, scale):
        if self.dynamic_span:
            seq_len = ops.maximum(ops.shape(query)[1], ops.shape(key)[1])
            span = ops.minimum(seq_len, self.max_relative_positions)
            rel_embeddings = ops.slice(rel_embeddings, (self.max_relative_positions - span, 0),
                                       (2 * span, ops.shape(rel_embeddings)[1]))
        else:
            span = self.span
            rel_embeddings = rel_embeddings[: 2 * span]
        rel_embeddings = ops.cast(rel_embeddings, query.dtype)[None]  # (1, P, D)
        relative_pos = ops.cast(relative_pos, "int32")
        score = 0.0
        if "c2p" in self.pos_att_type:
            pos_key = (self.key_dense if self.share_att_key else self.pos_key_dense)(rel_embeddings)[0]  # (P, N, H)
            c2p = ops.einsum("btnh,pnh->bntp", query, pos_key)
            c2p = _gather_last(c2p, ops.clip(relative_pos + span, 0, 2 * span - 1))  # (B, N, T, S)
            score = score + (c2p if self.dynamic_span else c2p * scale)
        if "p2c" in self.pos_att_type:
            pos_query = (self.query_dense if self.share_att_key else self.pos_query_dense)(rel_embeddings)[0]
            pos_query = pos_query * scale
            p2c = ops.einsum("bsnh,pnh->bnsp", key, pos_query)
            p2c = _gather_last(p2c, ops.clip(-relative_pos + span, 0, 2 * span - 1))  # (B, N, S, T)
            score = score + ops.transpose(p2c, (0, 1, 3, 2))
        return score

    def get_config(self):
        config = super().get_config()
        config.pop("scale")
        config.update(
            pos_att_type=list(self.pos_att_type),
            relative_attention=self.relative_attention,
            position_buckets=self.position_buckets,
            max_relative_positions=self.max_relative_positions,
            share_att_key=self.share_att_key,
            position_dropout=self.position_dropout,
            dynamic_span=self.dynamic_span,
        )
        return config


@keras.saving.register_keras_serializable(package="tfmodels")
class DisentangledEncoderBlock(TransformerEncoderBlock):
    """A post-norm `TransformerEncoderBlock` whose attention is `DisentangledAttention`.

    Args:
        pos_att_type, relative_attention, position_buckets,
        max_relative_positions, share_att_key, dynamic_span: see
            `DisentangledAttention`.
        **kwargs: `TransformerEncoderBlock` arguments; `hidden_dropout` is also
            the relative-embedding dropout (as in the reference).

    Call args:
        x: float tensor `(batch, seq_len, hidden_size)`; `relative_pos` and
        `rel_embeddings` are forwarded to the attention. For DeBERTa's
        enhanced mask decoder pass the query stream as `x` and the content
        stream as `value=` (keys and values come from it, the residual is `x`),
        as `query_states` in the reference.

    References:
        Parity reference: `transformers.models.deberta_v2.modeling_deberta_v2.DebertaV2Layer`.
    """

    def __init__(self, pos_att_type=("c2p", "p2c"), relative_attention=True, position_buckets=-1,
                 max_relative_positions=512, share_att_key=False, dynamic_span=False, **kwargs):
        super().__init__(**kwargs)
        self.pos_att_type = tuple(pos_att_type or ())
        self.relative_attention = relative_attention
        self.position_buckets = position_buckets
        self.max_relative_positions = max_relative_positions
        self.share_att_key = share_att_key
        self.dynamic_span = dynamic_span

    def _make_attention(self, hidden_size):
        return DisentangledAttention(
            num_heads=self.num_heads,
            key_dim=self.key_dim or hidden_size // self.num_heads,
            pos_att_type=self.pos_att_type,
            relative_attention=self.relative_attention,
            position_buckets=self.position_buckets,
            max_relative_positions=self.max_relative_positions,
            share_att_key=self.share_att_key,
            position_dropout=self.hidden_dropout,
            dynamic_span=self.dynamic_span,
            dropout=self.attention_dropout,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
        )

    def get_config(self):
        return {
            **super().get_config(),
            "pos_att_type": list(self.pos_att_type),
            "relative_attention": self.relative_attention,
            "position_buckets": self.position_buckets,
            "max_relative_positions": self.max_relative_positions,
            "share_att_key": self.share_att_key,
            "dynamic_span": self.dynamic_span,
        }
