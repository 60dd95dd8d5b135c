"""Transformer encoder block (self-attention + feed-forward, residuals, LayerNorm)."""

import keras
from keras import ops

from tfmodels.layers.normalization import normalization as make_normalization
from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class TransformerEncoderBlock(keras.layers.Layer):
    """One encoder layer, post-norm (BERT) or pre-norm (GPT-2, Megatron) by a flag.

    Post-norm (`normalize_first=False`)::

        x = LN(x + dropout(attention(x)))
        x = LN(x + dropout(feed_forward(x)))

    Pre-norm (`normalize_first=True`)::

        x = x + dropout(attention(LN(x)))
        x = x + dropout(feed_forward(LN(x)))

    Subclasses swap the attention mechanism by setting `attention_class` (a
    `MultiHeadAttention` subclass whose extra constructor arguments come in
    `attention_kwargs`) or by overriding `_make_attention()` (and the
    feed-forward by overriding `_make_feed_forward()`); extra call keyword
    arguments reach the attention layer unchanged.

    Args:
        num_heads: int, attention heads `N`.
        intermediate_size: int, feed-forward inner width.
        hidden_act: str, Hugging Face activation name for the feed-forward.
        hidden_dropout: float, dropout on the attention and feed-forward outputs.
        attention_dropout: float, dropout on the attention probabilities.
        layer_norm_eps: float, LayerNorm epsilon.
        normalize_first: bool, pre-norm if `True`, post-norm if `False`.
        key_dim: int, features per head; defaults to `hidden_size // num_heads`.
        use_bias: bool, biases in attention and feed-forward projections.
        kernel_initializer: initializer for every kernel.
        attention_kwargs: optional dict of extra `MultiHeadAttention`
            constructor arguments (`scale`, `output_use_bias`, ...), e.g.
            GPT-Neo's unscaled attention without q/k/v biases.
        normalization: str, `"layer_norm"` (`LayerNormalization`) or
            `"rms_norm"` (`RMSNormalization`, T5), see
            `tfmodels.layers.normalization.normalization`.
        feed_forward_kwargs: optional dict of extra `FeedForward` constructor
            arguments (`gated`, `dropout`), e.g. T5's gated feed-forward.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(batch, seq_len, hidden_size)`.
        attention_mask: optional mask, `True` / nonzero = attend: bool or 0/1
            int `(batch, key_len)`, `(batch, seq_len, key_len)` or
            `(batch | 1, num_heads | 1, seq_len | 1, key_len)`, or a Hugging
            Face additive float mask (0 = attend, negative = masked); other
            forms raise `ValueError` (see
            `tfmodels.layers.masks.attention_mask_to_bool`).
        attention_bias: optional additive float bias, same broadcast rule.
        cache, cache_update_index: KV cache, see `MultiHeadAttention`.
        return_attention_scores: bool, also return the attention probabilities.
        training: bool, enables dropout.
        **kwargs: forwarded to the attention layer.

    Returns:
        float tensor `(batch, seq_len, hidden_size)`, or a tuple
        `(output, [probabilities], [cache])` like `MultiHeadAttention`.
    """

    attention_class = MultiHeadAttention

    def __init__(
        self,
        num_heads,
        intermediate_size,
        hidden_act="gelu",
        hidden_dropout=0.0,
        attention_dropout=0.0,
        layer_norm_eps=1e-12,
        normalize_first=False,
        key_dim=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        attention_kwargs=None,
        normalization="layer_norm",
        feed_forward_kwargs=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.attention_kwargs = dict(attention_kwargs or {})
        self.normalization = normalization
        self.feed_forward_kwargs = dict(feed_forward_kwargs or {})
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_eps = layer_norm_eps
        self.normalize_first = normalize_first
        self.key_dim = key_dim
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _make_attention(self, hidden_size):
        """Creates the attention layer; the override point for variants."""
        if self.key_dim is None and hidden_size % self.num_heads:
            raise ValueError(
                "hidden_size must be divisible by num_heads when key_dim is not given. "
                f"Received: hidden_size={hidden_size}, num_heads={self.num_heads}"
            )
        return self.attention_class(
            num_heads=self.num_heads,
            key_dim=self.key_dim or hidden_size // self.num_heads,
            dropout=self.attention_dropout,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
            **{"use_bias": self.use_bias, **self.attention_kwargs},
        )

    def _make_feed_forward(self, **kwargs):
        """Creates the feed-forward layer; the override point for variants (extra `FeedForward` args)."""
        return FeedForward(
            self.intermediate_size, activation=self.hidden_act, use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="feed_forward", **{**self.feed_forward_kwargs, **kwargs},
        )

    def _make_norm(self, name, input_shape):
        """Creates and builds one of the block's norms (`normalization` kind)."""
        norm = make_normalization(self.normalization, epsilon=self.layer_norm_eps, dtype=self.dtype_policy, name=name)
        norm.build(input_shape)
        return norm

    def _residual(self, x, sublayer, norm, dropout, training):
        """`norm(x + dropout(sublayer(x)))` (post-norm) or `x + dropout(sublayer(norm(x)))` (pre-norm).

        `sublayer` returns its output or a tuple `(output, *extras)`; the
        extras (probabilities, cache) are returned beside the new `x`.
        """
        residual = x
        if self.normalize_first:
            x = norm(x)
        outputs = sublayer(x)
        output, extras = (outputs[0], outputs[1:]) if isinstance(outputs, tuple) else (outputs, ())
        x = ops.add(residual, dropout(output, training=training))  # a float32 sublayer output widens the sum
        if not self.normalize_first:
            x = norm(x)
        return x, extras

    def build(self, input_shape):
        hidden_size = input_shape[-1]
        self.self_attention = self._make_attention(hidden_size)
        self.self_attention.build(input_shape)
        self.attention_layer_norm = self._make_norm("attention_layer_norm", input_shape)
        self.feed_forward = self._make_feed_forward()
        self.feed_forward.build(input_shape)
        self.output_layer_norm = self._make_norm("output_layer_norm", input_shape)
        self.attention_output_dropout = keras.layers.Dropout(self.hidden_dropout, dtype=self.dtype_policy)
        # A feed-forward with its own output dtype (T5's float32 `wo`) keeps it through the dropout, so the
        # residual sum is computed in the wider dtype.
        self.output_dropout = keras.layers.Dropout(
            self.hidden_dropout, dtype=self.feed_forward_kwargs.get("output_dtype") or self.dtype_policy)
        self.built = True

    def call(
        self,
        x,
        attention_mask=None,
        attention_bias=None,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
        training=None,
        **kwargs,
    ):
        def attend(h):
            return self.self_attention(
                h, attention_mask=attention_mask, attention_bias=attention_bias, cache=cache,
                cache_update_index=cache_update_index, return_attention_scores=return_attention_scores,
                training=training, **kwargs,
            )

        x, extras = self._residual(x, attend, self.attention_layer_norm, self.attention_output_dropout, training)
        x, _ = self._residual(x, lambda h: self.feed_forward(h, training=training), self.output_layer_norm,
                              self.output_dropout, training)
        return (x, *extras) if extras else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "hidden_act": self.hidden_act,
            "hidden_dropout": self.hidden_dropout,
            "attention_dropout": self.attention_dropout,
            "layer_norm_eps": self.layer_norm_eps,
            "normalize_first": self.normalize_first,
            "key_dim": self.key_dim,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "attention_kwargs": self.attention_kwargs or None,
            "normalization": self.normalization,
            "feed_forward_kwargs": self.feed_forward_kwargs or None,
        }
