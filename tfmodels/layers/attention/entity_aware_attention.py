"""LUKE's entity-aware self-attention over a sequence of words followed by entities.

Size glossary as in `multi_head_attention` (B, T, S, D, N, H), plus
    W: number of word tokens at the front of the sequence (`word_length`)
    E: number of entity tokens after them (`T - W`)
"""

import keras
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.transformer_block import TransformerEncoderBlock

# The query projection of each (query type, key type) pair; `query_dense` is word-to-word.
_ENTITY_QUERIES = ("w2e_query", "e2w_query", "e2e_query")


@keras.saving.register_keras_serializable(package="tfmodels")
class EntityAwareAttention(MultiHeadAttention):
    """`MultiHeadAttention` whose query projection depends on the query's and the key's token type.

    The sequence is `[words (W); entities (E)]`. Keys and values are shared;
    the query of a word attending to a word is `query_dense(x)`, of a word
    attending to an entity `w2e_query(x)`, of an entity attending to a word
    `e2w_query(x)`, of an entity attending to an entity `e2e_query(x)`:

        scores[:, :, :W, :W] = Q_w2w K_w^T   scores[:, :, :W, W:] = Q_w2e K_e^T
        scores[:, :, W:, :W] = Q_e2w K_w^T   scores[:, :, W:, W:] = Q_e2e K_e^T

    With `entity_aware=False`, or when called without `word_length` (no
    entities), it is plain `MultiHeadAttention`.

    Args:
        num_heads, key_dim, ...: see `MultiHeadAttention`.
        entity_aware: bool, build and use the three extra query projections
            (`w2e_query_dense`, `e2w_query_dense`, `e2e_query_dense`, kernels
            `(D, N, H)`).
        **kwargs: `MultiHeadAttention` arguments.

    Call args (besides `MultiHeadAttention`'s):
        word_length: optional int `W` (or a scalar int tensor for dynamic
            shapes), the words at the front of `query`; the rest are
            entities. Self-attention only (no cache).

    Returns:
        Like `MultiHeadAttention`: `(B, T, D)` and optionally `(B, N, T, T)`.

    Raises:
        ValueError: for `word_length` outside `[0, T]`.

    References:
        Yamada et al., "LUKE: Deep Contextualized Entity Representations with
        Entity-aware Self-attention", EMNLP 2020. Parity reference:
        `transformers.models.luke.modeling_luke.LukeSelfAttention`.
    """

    def __init__(self, num_heads, key_dim, entity_aware=True, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        self.entity_aware = entity_aware

    def build(self, query_shape, value_shape=None, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        if self.entity_aware:
            for name in _ENTITY_QUERIES:
                dense = self._dense("btd,dnh->btnh", (None, self.num_heads, self.key_dim), "nh", name)
                dense.build(query_shape)
                setattr(self, f"{name}_dense", dense)

    def _project_query(self, query, word_length=None, **kwargs):
        if not self.entity_aware or word_length is None:
            return self.query_dense(query)
        length = query.shape[1]
        if isinstance(word_length, int) and length is not None and not 0 <= word_length <= length:
            raise ValueError(f"word_length must be in [0, {length}] (the query length). "
                             f"Received: word_length={word_length}")
        words, entities = query[:, :word_length], query[:, word_length:]  # (B, W, D), (B, E, D)
        to_words = ops.concatenate([self.query_dense(words), self.e2w_query_dense(entities)], axis=1)
        to_entities = ops.concatenate([self.w2e_query_dense(words), self.e2e_query_dense(entities)], axis=1)
        return ops.stack([to_words, to_entities], axis=2)  # (B, T, 2, N, H): queries for word / entity keys

    def _attention_scores(self, query, key, word_length=None, **kwargs):
        if len(query.shape) == 4:  # one query per position: plain attention
            return super()._attention_scores(query, key, **kwargs)
        word_scores = ops.einsum("btnh,bsnh->bnts", query[:, :, 0], key[:, :word_length])  # (B, N, T, W)
        entity_scores = ops.einsum("btnh,bsnh->bnts", query[:, :, 1], key[:, word_length:])  # (B, N, T, E)
        scores = ops.concatenate([word_scores, entity_scores], axis=-1)  # (B, N, T, T)
        return scores * ops.cast(self._scale, scores.dtype)

    def get_config(self):
        return {**super().get_config(), "entity_aware": self.entity_aware}


@keras.saving.register_keras_serializable(package="tfmodels")
class EntityAwareEncoderBlock(TransformerEncoderBlock):
    """A post-norm `TransformerEncoderBlock` whose attention is `EntityAwareAttention` (LUKE).

    The feed-forward, residuals and norms run over the whole `[words;
    entities]` sequence, as in `LukeLayer`; `word_length` (call keyword)
    reaches the attention.

    Args: `TransformerEncoderBlock`'s; `attention_kwargs={"entity_aware": False}`
    turns the extra query projections off (`use_entity_aware_attention`).

    References:
        Parity reference: `transformers.models.luke.modeling_luke.LukeLayer`.
    """

    attention_class = EntityAwareAttention
