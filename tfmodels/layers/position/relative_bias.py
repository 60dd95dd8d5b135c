"""Bucketed relative position bias (T5, MPNet): one learned scalar per head and bucket."""

import keras
from keras import ops

from tfmodels.layers.position.relative import t5_bucket_positions
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class RelativePositionBias(keras.layers.Layer):
    """Additive attention bias `(1, N, T, S)` from bucketed relative positions.

    Computed once per forward pass and passed to every attention layer as
    `attention_bias=` (`MultiHeadAttention` adds it to the scores before the
    mask), so no attention subclass is needed.

    Args:
        num_buckets: int, rows of the bias table (`relative_attention_num_buckets`).
        num_heads: int, attention heads `N` (columns of the table).
        max_distance: int, distance where the last bucket starts.
        bidirectional: bool; `False` for causal (decoder) attention: keys after
            the query share bucket 0.
        embeddings_initializer: initializer of the table.
        **kwargs: base layer arguments.

    Call args:
        query: tensor whose axis 1 is the query length `T`, e.g. hidden states
            `(B, T, D)`.
        key: optional tensor whose axis 1 is the key length `S`; defaults to `query`.
        query_offset: int or scalar tensor, position of the first query
            (decoding with a cache: the cache index).

    Returns:
        float tensor `(1, N, T, S)` in the compute dtype.

    References:
        Raffel et al., "Exploring the Limits of Transfer Learning with a
        Unified Text-to-Text Transformer", JMLR 2020; Song et al., "MPNet:
        Masked and Permuted Pre-training for Language Understanding", 2020.
        Parity reference: `transformers.models.mpnet.modeling_mpnet.MPNetEncoder.compute_position_bias`.
    """

    def __init__(self, num_buckets=32, num_heads=12, max_distance=128, bidirectional=True,
                 embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_buckets = num_buckets
        self.num_heads = num_heads
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings = self.add_weight(
            shape=(num_buckets, num_heads), name="embeddings",
            initializer=clone_initializer(self.embeddings_initializer),
        )
        self.built = True

    def call(self, query, key=None, query_offset=0):
        key = query if key is None else key
        query_pos = ops.arange(ops.shape(query)[1], dtype="int32")[:, None] + query_offset
        key_pos = ops.arange(ops.shape(key)[1], dtype="int32")[None, :]
        buckets = t5_bucket_positions(key_pos - query_pos, self.bidirectional, self.num_buckets, self.max_distance)
        values = ops.take(ops.cast(self.embeddings, self.compute_dtype), buckets, axis=0)  # (T, S, N)
        return ops.transpose(values, (2, 0, 1))[None]  # (1, N, T, S)

    def compute_output_shape(self, query_shape, key_shape=None):
        key_shape = key_shape or query_shape
        return (1, self.num_heads, query_shape[1], key_shape[1])

    def get_config(self):
        return {
            **super().get_config(),
            "num_buckets": self.num_buckets,
            "num_heads": self.num_heads,
            "max_distance": self.max_distance,
            "bidirectional": self.bidirectional,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
