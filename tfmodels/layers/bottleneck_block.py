"""Bottleneck encoder block with stacked feed-forward networks (MobileBERT)."""

import keras

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.normalization import normalization
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class BottleneckEncoderBlock(keras.layers.Layer):
    """A post-norm encoder block that works at a narrower inner width.

    With `bottleneck_size` (`B`) set, for input `h` of width `D`::

        inner = Norm(Dense_B(h))                             # bottleneck_input
        q = k = Norm(Dense_B(h)) if shared_query_key_bottleneck else h
        v = inner if bottleneck_attention else h             # (q = k = v = inner then)
        x = Norm(attention(q, k, v) + inner)                 # width B
        repeat num_feedforward_networks - 1 times:
            x = Norm(feed_forward_i(x) + x)
        x = Norm(feed_forward(x) + x)
        out = Norm(dropout(Dense_D(x)) + h)                  # output_bottleneck

    Without a bottleneck, `inner = q = k = v = h`, the attention and final
    feed-forward outputs get dropout and the output bottleneck is absent.
    `Norm` is `normalization_type` (`"layer_norm"` or `"no_norm"`).

    Args:
        num_heads: int, attention heads.
        intermediate_size: int, feed-forward inner width.
        bottleneck_size: int or None, inner width `B`; `None`: no bottleneck.
        bottleneck_attention: bool, queries, keys and values all come from
            the bottleneck (`use_bottleneck_attention`).
        shared_query_key_bottleneck: bool, queries and keys come from a second
            bottleneck (`key_query_shared_bottleneck`).
        num_feedforward_networks: int, feed-forward sub-blocks (>= 1).
        hidden_act: str, Hugging Face activation name.
        hidden_dropout, attention_dropout: dropout rates.
        normalization_type: `"layer_norm"` or `"no_norm"`.
        layer_norm_eps: epsilon of the bottleneck, attention and stacked
            feed-forward norms.
        output_norm_eps: epsilon of the final feed-forward's norm
            (`transformers` builds that one with PyTorch's default, 1e-5).
        kernel_initializer: initializer for every kernel.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(batch, seq_len, hidden_size)`.
        attention_mask: optional mask, `True` / nonzero = attend: bool or 0/1
            int `(batch, key_len)`, `(batch, seq_len, key_len)` or
            `(batch | 1, num_heads | 1, seq_len | 1, key_len)`, or a Hugging
            Face additive float mask (0 = attend, negative = masked); other
            forms raise `ValueError` (see
            `tfmodels.layers.masks.attention_mask_to_bool`).
        return_attention_scores: bool, also return the probabilities.
        training: bool, enables dropout.

    Returns:
        float tensor `(batch, seq_len, hidden_size)`, or `(output, probabilities)`.

    References:
        Sun et al., "MobileBERT: a Compact Task-Agnostic BERT for
        Resource-Limited Devices", ACL 2020. Parity reference:
        `transformers.models.mobilebert.modeling_mobilebert.MobileBertLayer`.
    """

    def __init__(self, num_heads, intermediate_size, bottleneck_size=None, bottleneck_attention=False,
                 shared_query_key_bottleneck=True, num_feedforward_networks=1, hidden_act="relu",
                 hidden_dropout=0.0, attention_dropout=0.0, normalization_type="layer_norm",
                 layer_norm_eps=1e-12, output_norm_eps=1e-5, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if num_feedforward_networks < 1:
            raise ValueError(f"num_feedforward_networks must be >= 1. Received: {num_feedforward_networks}")
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.bottleneck_size = bottleneck_size
        self.bottleneck_attention = bottleneck_attention
        self.shared_query_key_bottleneck = shared_query_key_bottleneck
        self.num_feedforward_networks = num_feedforward_networks
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.normalization_type = normalization_type
        self.layer_norm_eps = layer_norm_eps
        self.output_norm_eps = output_norm_eps
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _norm(self, name, epsilon=None):
        return normalization(self.normalization_type, epsilon=epsilon or self.layer_norm_eps,
                             dtype=self.dtype_policy, name=name)

    def _dense(self, units, name):
        return keras.layers.Dense(units, kernel_initializer=clone_initializer(self.kernel_initializer),
                                  dtype=self.dtype_policy, name=name)

    def _feed_forward(self, inner, name):
        return FeedForward(self.intermediate_size, activation=self.hidden_act, output_size=inner,
                           kernel_initializer=clone_initializer(self.kernel_initializer),
                           dtype=self.dtype_policy, name=name)

    def build(self, input_shape):
        hidden = input_shape[-1]
        inner = self.bottleneck_size or hidden
        inner_shape = (*input_shape[:-1], inner)
        self.bottleneck_input = self.bottleneck_attention_input = self.output_bottleneck = None
        if self.bottleneck_size:
            self.bottleneck_input = self._dense(inner, "bottleneck_input")
            self.bottleneck_input.build(input_shape)
            self.bottleneck_input_norm = self._norm("bottleneck_input_norm")
            self.bottleneck_input_norm.build(inner_shape)
            if self.shared_query_key_bottleneck and not self.bottleneck_attention:
                self.bottleneck_attention_input = self._dense(inner, "bottleneck_attention_input")
                self.bottleneck_attention_input.build(input_shape)
                self.bottleneck_attention_norm = self._norm("bottleneck_attention_norm")
                self.bottleneck_attention_norm.build(inner_shape)
        query_shape = inner_shape if self.bottleneck_size and (
            self.bottleneck_attention or self.shared_query_key_bottleneck) else input_shape
        value_shape = inner_shape if self.bottleneck_size and self.bottleneck_attention else input_shape
        self.self_attention = MultiHeadAttention(
            num_heads=self.num_heads, key_dim=inner // self.num_heads, output_dim=inner,
            dropout=self.attention_dropout, kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="self_attention",
        )
        self.self_attention.build(query_shape, value_shape, query_shape)
        self.attention_norm = self._norm("attention_norm")
        self.attention_norm.build(inner_shape)
        self.stacked_feed_forwards, self.stacked_norms = [], []
        for i in range(self.num_feedforward_networks - 1):
            self.stacked_feed_forwards.append(self._feed_forward(inner, f"stacked_feed_forward_{i}"))
            self.stacked_feed_forwards[-1].build(inner_shape)
            self.stacked_norms.append(self._norm(f"stacked_norm_{i}"))
            self.stacked_norms[-1].build(inner_shape)
        self.feed_forward = self._feed_forward(inner, "feed_forward")
        self.feed_forward.build(inner_shape)
        self.output_norm = self._norm("output_norm", self.output_norm_eps)
        self.output_norm.build(inner_shape)
        if self.bottleneck_size:
            self.output_bottleneck = self._dense(hidden, "output_bottleneck")
            self.output_bottleneck.build(inner_shape)
            self.output_bottleneck_norm = self._norm("output_bottleneck_norm")
            self.output_bottleneck_norm.build(input_shape)
        self.dropout_layer = keras.layers.Dropout(self.hidden_dropout, dtype=self.dtype_policy)
        self.built = True

    def call(self, x, attention_mask=None, return_attention_scores=False, training=None):
        query = value = inner = x  # (batch, seq_len, hidden)
        if self.bottleneck_size:
            inner = self.bottleneck_input_norm(self.bottleneck_input(x))  # (batch, seq_len, B)
            if self.bottleneck_attention:
                query = value = inner
            elif self.shared_query_key_bottleneck:
                query = self.bottleneck_attention_norm(self.bottleneck_attention_input(x))
        outputs = self.self_attention(query, value=value, key=query, attention_mask=attention_mask,
                                      return_attention_scores=return_attention_scores, training=training)
        attention_output, probs = outputs if return_attention_scores else (outputs, None)
        if not self.bottleneck_size:
            attention_output = self.dropout_layer(attention_output, training=training)
        y = self.attention_norm(attention_output + inner)
        for feed_forward, norm in zip(self.stacked_feed_forwards, self.stacked_norms):
            y = norm(feed_forward(y) + y)
        ffn_output = self.feed_forward(y)
        if self.bottleneck_size:
            y = self.output_norm(ffn_output + y)
            out = self.dropout_layer(self.output_bottleneck(y), training=training)
            y = self.output_bottleneck_norm(out + x)
        else:
            y = self.output_norm(self.dropout_layer(ffn_output, training=training) + y)
        return (y, probs) if return_attention_scores else y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "bottleneck_size": self.bottleneck_size,
            "bottleneck_attention": self.bottleneck_attention,
            "shared_query_key_bottleneck": self.shared_query_key_bottleneck,
            "num_feedforward_networks": self.num_feedforward_networks,
            "hidden_act": self.hidden_act,
            "hidden_dropout": self.hidden_dropout,
            "attention_dropout": self.attention_dropout,
            "normalization_type": self.normalization_type,
            "layer_norm_eps": self.layer_norm_eps,
            "output_norm_eps": self.output_norm_eps,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
