"""The reversible residual block of the Reformer: two streams, attention and feed-forward as its two functions."""

import keras

from tfmodels.layers.attention.reformer_attention import LocalSelfAttention, LSHSelfAttention
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.utils import clone_initializer

ATTENTION_TYPES = {"lsh": LSHSelfAttention, "local": LocalSelfAttention}


@keras.saving.register_keras_serializable(package="tfmodels")
class ReversibleBlock(keras.layers.Layer):
    """A reversible residual layer (RevNet) over two streams `(x1, x2)`::

        y1 = x1 + F(x2)    F = dropout(attention(LayerNorm(x2)))
        y2 = x2 + G(y1)    G = dropout(feed_forward(LayerNorm(y1)))

    The inputs can be recomputed from the outputs (`x2 = y2 - G(y1)`,
    `x1 = y1 - F(x2)`), which is what lets the reference train without
    storing activations (its hand-written backward pass). Here the forward
    pass is exactly this formula, and training uses ordinary autodiff
    through it (activations are kept as in any Keras layer: same gradients,
    none of the memory saving).

    Args:
        attention_type: `"lsh"` (`LSHSelfAttention`) or `"local"` (`LocalSelfAttention`).
        num_heads: int, attention heads.
        head_dim: int, features per head (`attention_head_size`).
        feed_forward_size: int, inner width of the feed-forward network.
        hidden_act: str, its activation.
        hidden_dropout: float, dropout after the attention output projection,
            inside the feed-forward network, and on its output.
        layer_norm_eps: float.
        chunk_size_feed_forward: int, feed-forward chunking (`FeedForward(chunk_size=...)`).
        kernel_initializer: initializer of every kernel.
        attention_kwargs: dict, the attention layer's own arguments
            (`chunk_length`, `num_chunks_before`, `num_hashes`, `num_buckets`,
            `is_decoder`, `dropout`, ...).
        **kwargs: base layer arguments.

    Call args:
        streams: tuple `(x1, x2)` of float tensors `(batch, seq_len, hidden_size)`.
        attention_mask: optional bool `(batch, seq_len)`, True = a real token.
        random_rotations: optional, passed to an LSH attention (see `LSHSelfAttention`).
        return_attention_scores: bool.
        training: bool.

    Returns:
        `(y1, y2)`, or `(y1, y2, probabilities)` with `return_attention_scores`.

    Raises:
        ValueError: for an unknown `attention_type`.

    References:
        Gomez et al., "The Reversible Residual Network", 2017; Kitaev et al.,
        "Reformer: The Efficient Transformer", 2020. Parity reference:
        `transformers.models.reformer.modeling_reformer.ReformerLayer`.
    """

    def __init__(self, attention_type, num_heads, head_dim, feed_forward_size, hidden_act="relu",
                 hidden_dropout=0.0, layer_norm_eps=1e-12, chunk_size_feed_forward=0,
                 kernel_initializer="glorot_uniform", attention_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type must be one of {sorted(ATTENTION_TYPES)}. "
                             f"Received: attention_type={attention_type!r}")
        self.attention_type = attention_type
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.feed_forward_size = feed_forward_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.layer_norm_eps = layer_norm_eps
        self.chunk_size_feed_forward = chunk_size_feed_forward
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.attention_kwargs = dict(attention_kwargs or {})
        self.attention_layer_norm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy,
                                                       name="attention_layer_norm")
        self.attention = ATTENTION_TYPES[attention_type](
            num_heads=num_heads, key_dim=head_dim, kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="attention", **self.attention_kwargs)
        self.attention_dropout = keras.layers.Dropout(hidden_dropout, dtype=self.dtype_policy)
        self.feed_forward_layer_norm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy,
                                                          name="feed_forward_layer_norm")
        # The reference drops before its activation; relu commutes with dropout, so for its default this is the same.
        self.feed_forward = FeedForward(feed_forward_size, activation=hidden_act, dropout=hidden_dropout,
                                        chunk_size=chunk_size_feed_forward,
                                        kernel_initializer=clone_initializer(self.kernel_initializer),
                                        dtype=self.dtype_policy, name="feed_forward")
        self.output_dropout = keras.layers.Dropout(hidden_dropout, dtype=self.dtype_policy)

    def build(self, streams_shape):
        shape = tuple(streams_shape[1]) if isinstance(streams_shape[0], (tuple, list)) else tuple(streams_shape)
        self.attention_layer_norm.build(shape)
        self.attention.build(shape)
        self.feed_forward_layer_norm.build(shape)
        self.feed_forward.build(shape)
        self.built = True

    def call(self, streams, attention_mask=None, random_rotations=None, return_attention_scores=False,
             training=None):
        x1, x2 = streams
        extra = {"random_rotations": random_rotations} if self.attention_type == "lsh" else {}
        attended = self.attention(self.attention_layer_norm(x2), attention_mask=attention_mask,
                                  return_attention_scores=return_attention_scores, training=training, **extra)
        probs = None
        if return_attention_scores:
            attended, probs = attended
        y1 = x1 + self.attention_dropout(attended, training=training)  # y1 = x1 + F(x2)
        fed = self.feed_forward(self.feed_forward_layer_norm(y1), training=training)
        y2 = x2 + self.output_dropout(fed, training=training)  # y2 = x2 + G(y1)
        return (y1, y2, probs) if return_attention_scores else (y1, y2)

    def get_config(self):
        return {**super().get_config(), "attention_type": self.attention_type, "num_heads": self.num_heads,
                "head_dim": self.head_dim, "feed_forward_size": self.feed_forward_size,
                "hidden_act": self.hidden_act, "hidden_dropout": self.hidden_dropout,
                "layer_norm_eps": self.layer_norm_eps, "chunk_size_feed_forward": self.chunk_size_feed_forward,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "attention_kwargs": self.attention_kwargs}
