"""Multi-head attention: the base every attention variant in tfmodels extends.

Size glossary (used in shapes below and in every subclass):
    B: batch size
    T: query length
    S: key/value length (with a cache: the cache length)
    D: input features (`hidden_size`)
    N: number of heads (`num_heads`)
    H: features per head (`key_dim`)

Kernels keep the `(D, N, H)` layout for query/key/value and `(N, H, D)` for
the output projection, so a converter maps a PyTorch `nn.Linear` weight with
one transpose and one reshape.
"""

import math

import keras
from keras import ops

from tfmodels.layers.einsum_dense import EinsumDense
from tfmodels.layers.kv_cache import write_kv_cache
from tfmodels.layers.masks import attention_mask_to_bool, mask_scores, masked_softmax
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class MultiHeadAttention(keras.layers.Layer):
    """Scaled dot-product multi-head attention with boolean masks.

    `softmax(scale * Q K^T + bias, masked) V`, then an output projection.
    Variants override one step instead of copying the layer:

    - `_attention_scores(query, key, **kwargs)` returns the scores
      `(B, N, T, S)` before bias and mask. Relative-position attention
      (Transformer-XL, XLNet, DeBERTa, Funnel) adds its terms here; any extra
      call keyword arguments are forwarded to it.
    - `_project_query(query, **kwargs)` projects the queries `(B, T, D)`
      (default: `query_dense`); LUKE's entity-aware attention projects
      word and entity queries differently per key type here.
    - `_transform_query_key(query, key, **kwargs)` rewrites projected
      queries/keys `(B, T, N, H)` / `(B, S, N, H)` before scoring (rotary
      position embedding).
    - `_transform_value(value, **kwargs)` rewrites projected values
      `(B, S, N, H)` (RoFormer's `rotary_value`).
    - Biases shared across layers (T5/MPNet relative position bias, ALiBi)
      need no subclass: pass them as `attention_bias`.

    Cross-attention (encoder-decoders) is this layer called with queries
    from the decoder and `value` (and `key`) from the encoder output. To
    project the encoder output once per `generate()` call instead of at
    every step, compute `project_key_value(encoder_output)` once and pass it
    as `projected_key_value` to every call.

    Args:
        num_heads: int, number of attention heads `N`.
        key_dim: int, features per head `H` for queries and keys.
        value_dim: int, features per head for values; defaults to `key_dim`.
        output_dim: int, output features; defaults to the query's last dim.
        dropout: float, dropout rate on the attention probabilities.
        use_bias: bool, whether the projections have biases.
        output_use_bias: bool, whether the output projection has a bias;
            defaults to `use_bias` (GPT-Neo: `use_bias=False`, `True` here).
        scale: float, multiplier of `Q K^T`; defaults to `1 / sqrt(key_dim)`.
            Use `1.0` for models that scale elsewhere (T5).
        kernel_initializer: initializer for the projection kernels.
        bias_initializer: initializer for the projection biases.
        return_logits: bool, `return_attention_scores` returns the masked
            pre-softmax logits (masked entries at the float32 minimum)
            instead of the probabilities (SqueezeBERT's reference does).
        mask_penalty: float or None; `None` excludes masked keys, a number
            is subtracted from masked scores instead (see
            `tfmodels.layers.masks.masked_softmax`; Funnel: `1e6`).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call args:
        query: float tensor `(B, T, D)`.
        value: float tensor `(B, S, D)`; defaults to `query` (self-attention).
        key: float tensor `(B, S, D)`; defaults to `value`.
        attention_mask: optional mask, `True` / nonzero = attend: bool or 0/1
            int `(B, S)`, `(B, T, S)` or `(B | 1, N | 1, T | 1, S)`, or a
            Hugging Face additive float mask (0 = attend, negative = masked)
            of those shapes; see `tfmodels.layers.masks.attention_mask_to_bool`.
            Other dtypes, ranks or sizes raise `ValueError`.
        attention_bias: optional float tensor broadcastable to `(B, N, T, S)`,
            added to the scores before masking.
        cache: optional float tensor `(B, 2, N, S, H)` of cached keys and
            values; the new keys/values are written at `cache_update_index`
            and attention runs over the whole cache (mask future slots with
            `attention_mask`).
        cache_update_index: int or scalar int tensor, where to write.
        projected_key_value: optional float tensor `(B, 2, S, N, H)` of keys
            and values already projected by `project_key_value` (static
            cross-attention keys/values); `value` and `key` are then unused
            and `_transform_query_key` is skipped (no position transform
            applies across two sequences).
        token_packing: optional `tfmodels.layers.packing.TokenPacking`
            (self-attention only, no cache): `query` is a padded batch's real
            tokens `(1, tokens, D)`; the projections run on them, the
            attention core on the padded `(B, S, N, H)` layout, and the output
            is packed `(1, tokens, output_dim)` again.
        return_attention_scores: bool, also return the probabilities.
        training: bool, enables dropout.
        **kwargs: forwarded to `_attention_scores` / `_transform_query_key`.

    Returns:
        `output` `(B, T, output_dim)` (packed: `(1, tokens, output_dim)`); with `return_attention_scores`, also the
        probabilities `(B, N, T, S)`; with `cache`, also the updated cache.
        The return value is a tuple whenever more than `output` is returned:
        `(output, [probabilities], [cache])`.

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
        Parity references: `transformers.models.bert.modeling_bert.BertSelfAttention`;
        cross-attention: `transformers.models.t5.modeling_t5.T5Attention`.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        output_dim=None,
        dropout=0.0,
        use_bias=True,
        scale=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        return_logits=False,
        output_use_bias=None,
        mask_penalty=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.return_logits = return_logits
        self.mask_penalty = mask_penalty
        if num_heads <= 0 or key_dim <= 0:
            raise ValueError(
                "num_heads and key_dim must be positive. "
                f"Received: num_heads={num_heads}, key_dim={key_dim}"
            )
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim or key_dim
        self.output_dim = output_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.output_use_bias = use_bias if output_use_bias is None else output_use_bias
        self.scale = scale
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self._scale = scale if scale is not None else 1.0 / math.sqrt(key_dim)

    def _dense(self, equation, output_shape, bias_axes, name, use_bias=None):
        use_bias = self.use_bias if use_bias is None else use_bias
        return EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if use_bias else None,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = value_shape or query_shape
        key_shape = key_shape or value_shape
        output_dim = self.output_dim or query_shape[-1]
        n, h, v = self.num_heads, self.key_dim, self.value_dim
        self.query_dense = self._dense("btd,dnh->btnh", (None, n, h), "nh", "query")
        self.query_dense.build(query_shape)
        self.key_dense = self._dense("bsd,dnh->bsnh", (None, n, h), "nh", "key")
        self.key_dense.build(key_shape)
        self.value_dense = self._dense("bsd,dnh->bsnh", (None, n, v), "nh", "value")
        self.value_dense.build(value_shape)
        self.output_dense = self._dense(
            "btnh,nhd->btd", (None, output_dim), "d", "attention_output", use_bias=self.output_use_bias
        )
        self.output_dense.build((None, None, n, v))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.built = True

    # -- override points ------------------------------------------------------

    def _project_query(self, query, **kwargs):
        """Projects the queries `(B, T, D)` -> `(B, T, N, H)` (what `_attention_scores` reads)."""
        return self.query_dense(query)

    def _transform_query_key(self, query, key, **kwargs):
        """Rewrites projected query `(B, T, N, H)` and key `(B, S, N, H)`."""
        return query, key

    def _transform_value(self, value, **kwargs):
        """Rewrites projected values `(B, S, N, H)`."""
        return value

    def _attention_scores(self, query, key, **kwargs):
        """Returns the scores `(B, N, T, S)` before bias and mask."""
        scores = ops.einsum("btnh,bsnh->bnts", query, key)
        return scores * ops.cast(self._scale, scores.dtype)

    def _scores_by_default(self):
        """Whether this layer keeps the default `_transform_query_key`, `_transform_value` and `_attention_scores`."""
        cls = type(self)
        return (cls._transform_query_key is MultiHeadAttention._transform_query_key
                and cls._transform_value is MultiHeadAttention._transform_value
                and cls._attention_scores is MultiHeadAttention._attention_scores)

    # -- forward ----------------------------------------------------------------

    def project_key_value(self, value, key=None):
        """Projects keys and values once, e.g. an encoder output for cross-attention.

        Args:
            value: float tensor `(B, S, D)`.
            key: float tensor `(B, S, D)`; defaults to `value`.

        Returns:
            float tensor `(B, 2, S, N, H)`, keys then values (after
            `_transform_value`), to pass as `projected_key_value`.
        """
        key = value if key is None else key
        k = self.key_dense(key)  # (B, S, N, H)
        v = self._transform_value(self.value_dense(value))  # (B, S, N, H)
        return ops.stack([k, ops.cast(v, k.dtype)], axis=1)

    def call(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        attention_bias=None,
        cache=None,
        cache_update_index=None,
        projected_key_value=None,
        return_attention_scores=False,
        training=None,
        token_packing=None,
        **kwargs,
    ):
        if token_packing is not None and (value is not None or key is not None or cache is not None
                                          or projected_key_value is not None):
            raise ValueError("token_packing applies to self-attention without a cache only. Received: "
                             f"value={value is not None}, key={key is not None}, cache={cache is not None}, "
                             f"projected_key_value={projected_key_value is not None}")
        # Packed tokens with the default scoring: the attention core runs head-major `(B, N, T, H)`, gathered
        # straight from the packed rows (no scatter, no transposes); see `tfmodels.layers.packing`.
        head_major = token_packing is not None and self._scores_by_default()
        q = self._project_query(query, **kwargs)  # (B, T, N, H)
        if projected_key_value is not None:
            k, v = projected_key_value[:, 0], projected_key_value[:, 1]  # (B, S, N, H) each, used as given
        else:
            value = query if value is None else value
            key = value if key is None else key
            k = self.key_dense(key)  # (B, S, N, H)
            v = self.value_dense(value)  # (B, S, N, H)
            if head_major:
                q, k, v = (token_packing.unpack_heads(t) for t in (q, k, v))  # (B, N, T, H) each
            else:
                if token_packing is not None:  # projected packed, attended padded; the mask hides padded keys
                    q, k, v = (token_packing.unpack(t, zeros=False) for t in (q, k, v))
                q, k = self._transform_query_key(q, k, **kwargs)
                v = self._transform_value(v, **kwargs)

        cached_head_major = False
        if cache is not None:
            k, v, cache = write_kv_cache(cache, cache_update_index, k, v)  # (B, N, S, H) each, (B, 2, N, S, H)
            # The default scoring reads the head-major cache where it lies; an overridden `_attention_scores`
            # gets the `(B, S, N, H)` keys it is written for.
            cached_head_major = type(self)._attention_scores is MultiHeadAttention._attention_scores
            if not cached_head_major:
                k, v = ops.transpose(k, (0, 2, 1, 3)), ops.transpose(v, (0, 2, 1, 3))

        if head_major or cached_head_major:  # the default `_attention_scores` on head-major keys `(B, N, S, H)`
            query_layout = "bnth" if head_major else "btnh"  # packed: head-major queries; cached: as projected
            batch, query_len, key_len = q.shape[0], q.shape[query_layout.index("t")], k.shape[2]
            scores = ops.einsum(f"{query_layout},bnsh->bnts", q, ops.cast(k, q.dtype)) * ops.cast(self._scale, q.dtype)
        else:
            queries = query if token_packing is None else q  # (B, T, ...)
            batch, query_len, key_len = queries.shape[0], queries.shape[1], k.shape[1]
            scores = self._attention_scores(q, k, **kwargs)  # (B, N, T, S)
        attention_mask = attention_mask_to_bool(attention_mask, batch, query_len, key_len)
        if attention_bias is not None:
            scores = scores + ops.cast(attention_bias, scores.dtype)
        probs = masked_softmax(scores, attention_mask, penalty=self.mask_penalty)
        returned_scores = probs
        if self.return_logits:
            returned_scores = ops.cast(mask_scores(scores, attention_mask, self.mask_penalty), probs.dtype)
        dropped = self.dropout_layer(probs, training=training)
        if head_major or cached_head_major:
            context = ops.einsum(f"bnts,bnsh->{query_layout}", dropped, ops.cast(v, dropped.dtype))
            if head_major:
                context = token_packing.pack_heads(context)
        else:
            context = ops.einsum("bnts,bsnh->btnh", dropped, ops.cast(v, dropped.dtype))
            if token_packing is not None:
                context = token_packing.pack(context)
        output = self.output_dense(context)  # (B, T, output_dim)

        extras = ()
        if return_attention_scores:
            extras += (returned_scores,)
        if cache is not None:
            extras += (cache,)
        return (output,) + extras if extras else output

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return (*query_shape[:-1], self.output_dim or query_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "output_dim": self.output_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_use_bias": self.output_use_bias,
            "scale": self.scale,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "return_logits": self.return_logits,
            "mask_penalty": self.mask_penalty,
        }
