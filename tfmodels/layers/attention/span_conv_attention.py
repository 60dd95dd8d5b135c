"""ConvBERT mixed attention: self-attention heads plus span-based dynamic convolution heads.

Size glossary: B batch, T sequence length, D hidden size, N attention heads
(after `head_ratio`), H head size (`D / N / 2`), K convolution kernel size.
"""

import keras
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class SpanConvAttention(MultiHeadAttention):
    """Mixed attention: `N` self-attention heads and `N` span-based dynamic convolution heads.

    The convolution kernel of each position is generated from the query and a
    depthwise-separable convolution of the input over its span::

        kernel = softmax(W_k (Q * sepconv(x)))        # (B, T, N, K)
        conv[t] = sum_j kernel[t, j] * V'[t + j - K//2]  # V' = W_o' x, per head

    The output projection acts on the concatenation `[attention heads,
    convolution heads]`: `output_dense` holds its attention half (and the
    bias), `conv_output_dense` the convolution half.

    Args:
        num_heads: int, self-attention heads `N` (= convolution heads).
        key_dim: int, head size `H`.
        conv_kernel_size: int, odd span `K`.
        **kwargs: `MultiHeadAttention` arguments.

    Call args: as `MultiHeadAttention` (self-attention only).

    Returns:
        Like `MultiHeadAttention`: `(B, T, D)`, optionally the attention
        probabilities `(B, N, T, T)`.

    References:
        Jiang et al., "ConvBERT: Improving BERT with Span-based Dynamic
        Convolution", NeurIPS 2020. Parity reference:
        `transformers.models.convbert.modeling_convbert.ConvBertSelfAttention`.
    """

    def __init__(self, num_heads, key_dim, conv_kernel_size=9, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        if conv_kernel_size % 2 == 0:
            raise ValueError(f"conv_kernel_size must be odd. Received: conv_kernel_size={conv_kernel_size}")
        self.conv_kernel_size = conv_kernel_size

    def build(self, query_shape, value_shape=None, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        n, h, k = self.num_heads, self.key_dim, self.conv_kernel_size
        init = dict(kernel_initializer=clone_initializer(self.kernel_initializer), dtype=self.dtype_policy)
        self.key_conv = keras.layers.SeparableConv1D(
            n * h, k, padding="same", depthwise_initializer=clone_initializer(self.kernel_initializer),
            pointwise_initializer=clone_initializer(self.kernel_initializer), dtype=self.dtype_policy,
            name="key_conv",
        )
        self.key_conv.build(query_shape)
        self.conv_kernel_dense = keras.layers.Dense(n * k, name="conv_kernel", **init)
        self.conv_kernel_dense.build((None, None, n * h))
        self.conv_value_dense = keras.layers.Dense(n * h, name="conv_value", **init)
        self.conv_value_dense.build(query_shape)
        self.conv_output_dense = self._dense("btnh,nhd->btd", (None, self.output_dim or query_shape[-1]), None,
                                             "conv_output")
        self.conv_output_dense.build((None, None, n, h))

    def _span_convolution(self, x):
        """The convolution heads `(B, T, N, H)` for input `x` `(B, T, D)`."""
        n, h, k = self.num_heads, self.key_dim, self.conv_kernel_size
        batch, seq_len = ops.shape(x)[0], ops.shape(x)[1]
        query = ops.reshape(self.query_dense(x), (batch, seq_len, n * h))
        kernel = self.conv_kernel_dense(self.key_conv(x) * query)  # (B, T, N * K)
        kernel = ops.softmax(ops.reshape(kernel, (batch, seq_len, n, k)), axis=-1)
        values = self.conv_value_dense(x)  # (B, T, N * H)
        pad = (k - 1) // 2
        padded = ops.pad(values, ((0, 0), (pad, pad), (0, 0)))
        windows = ops.stack([padded[:, j:j + seq_len] for j in range(k)], axis=-1)  # (B, T, N * H, K)
        windows = ops.reshape(windows, (batch, seq_len, n, h, k))
        return ops.einsum("btnhk,btnk->btnh", windows, ops.cast(kernel, windows.dtype))

    def call(self, query, value=None, key=None, attention_mask=None, attention_bias=None, cache=None,
             cache_update_index=None, return_attention_scores=False, training=None, **kwargs):
        if value is not None or key is not None or cache is not None:
            raise ValueError("SpanConvAttention supports self-attention without a cache only.")
        outputs = super().call(query, attention_mask=attention_mask, attention_bias=attention_bias,
                               return_attention_scores=return_attention_scores, training=training, **kwargs)
        conv = self.conv_output_dense(self._span_convolution(query))
        if isinstance(outputs, tuple):
            return (outputs[0] + conv, *outputs[1:])
        return outputs + conv

    def get_config(self):
        return {**super().get_config(), "conv_kernel_size": self.conv_kernel_size}


@keras.saving.register_keras_serializable(package="tfmodels")
class SpanConvEncoderBlock(TransformerEncoderBlock):
    """A post-norm `TransformerEncoderBlock` with `SpanConvAttention` and an
    optionally grouped feed-forward (ConvBERT).

    Args:
        head_ratio: int, attention heads are `num_heads // head_ratio` (at least 1).
        conv_kernel_size: int, odd convolution span.
        num_groups: int, groups of the feed-forward projections.
        **kwargs: `TransformerEncoderBlock` arguments (`num_heads` is the
            configured number before `head_ratio`).

    References:
        Parity reference: `transformers.models.convbert.modeling_convbert.ConvBertLayer`.
    """

    def __init__(self, head_ratio=2, conv_kernel_size=9, num_groups=1, **kwargs):
        super().__init__(**kwargs)
        self.head_ratio = head_ratio
        self.conv_kernel_size = conv_kernel_size
        self.num_groups = num_groups

    def _make_attention(self, hidden_size):
        heads = max(self.num_heads // self.head_ratio, 1)
        if hidden_size % heads or (hidden_size // heads) % 2:
            raise ValueError(
                "ConvBERT needs hidden_size divisible by 2 * (num_heads // head_ratio). "
                f"Received: hidden_size={hidden_size}, num_heads={self.num_heads}, head_ratio={self.head_ratio}"
            )
        return SpanConvAttention(
            num_heads=heads,
            key_dim=hidden_size // heads // 2,
            conv_kernel_size=self.conv_kernel_size,
            output_dim=hidden_size,
            dropout=self.attention_dropout,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
        )

    def _make_feed_forward(self, **kwargs):
        return super()._make_feed_forward(num_groups=self.num_groups, **kwargs)

    def get_config(self):
        return {
            **super().get_config(),
            "head_ratio": self.head_ratio,
            "conv_kernel_size": self.conv_kernel_size,
            "num_groups": self.num_groups,
        }
