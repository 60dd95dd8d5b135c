"""Funnel attention inputs and how they shrink when the sequence is pooled.

The encoder carries `(position_embeds, token_type_mat, attention_mask, cls_mask)`
from block to block; pooling the hidden states pools these too. This is the
bookkeeping of `transformers`' `FunnelAttentionStructure`, on static shapes.
"""

import keras
from keras import ops

from tfmodels.layers.pooling.funnel import pool_sequence, stride_pool
from tfmodels.layers.position.funnel import factorized_embeddings, relative_shift_embeddings

CLS_TOKEN_TYPE_ID = 2


class FunnelAttentionStructure:
    """Builds and pools the Funnel attention inputs (no weights, two dropouts)."""

    def __init__(self, owner, d_model, num_blocks, attention_type, separate_cls, truncate_seq, pool_q_only,
                 pooling_type, dropout_rate):
        self.d_model = d_model
        self.num_blocks = num_blocks
        self.attention_type = attention_type
        self.separate_cls = separate_cls
        self.truncate_seq = truncate_seq
        self.pool_q_only = pool_q_only
        self.pooling_type = pooling_type
        self.dropouts = (
            keras.layers.Dropout(dropout_rate, dtype=owner.dtype_policy, name="sin_dropout"),
            keras.layers.Dropout(dropout_rate, dtype=owner.dtype_policy, name="cos_dropout"),
        )
        owner.position_dropouts = list(self.dropouts)  # tracked by the owning model

    def init(self, seq_len, attention_mask, token_type_ids, training=None):
        """Attention inputs for a full-length sequence.

        Args:
            seq_len: static int length.
            attention_mask: float `(B, L)` of 0/1.
            token_type_ids: int `(B, L)`.
        """
        if self.attention_type == "factorized":
            position_embeds = factorized_embeddings(seq_len, self.d_model, self.dropouts, training)
        else:
            position_embeds = relative_shift_embeddings(
                seq_len, self.d_model, self.num_blocks, self.separate_cls, self.truncate_seq, self.dropouts, training
            )
        same = ops.equal(token_type_ids[:, :, None], token_type_ids[:, None, :])
        is_cls = ops.equal(token_type_ids, CLS_TOKEN_TYPE_ID)
        token_type_mat = ops.logical_or(ops.logical_or(is_cls[:, :, None], is_cls[:, None, :]), same)  # (B, L, L)
        cls_mask = None
        if self.separate_cls:
            cls_mask = ops.pad(ops.ones((seq_len - 1, seq_len - 1)), [[1, 0], [1, 0]])  # (L, L)
        return [position_embeds, token_type_mat, attention_mask, cls_mask]

    def _stride(self, x, axis):
        return stride_pool(x, axis, self.separate_cls, self.truncate_seq)

    def _pool(self, x, mode):
        return pool_sequence(x, mode, self.separate_cls, self.truncate_seq)

    def pre_attention_pooling(self, hidden, inputs):
        """Pools `hidden` and the query side (or everything) of the inputs."""
        position_embeds, token_type_mat, attention_mask, cls_mask = inputs
        if self.pool_q_only:
            if self.attention_type == "factorized":
                position_embeds = tuple(self._stride(t, 0) for t in position_embeds[:2]) + tuple(position_embeds[2:])
            token_type_mat = self._stride(token_type_mat, 1)
            cls_mask = self._stride(cls_mask, 0)
        else:
            if self.attention_type == "factorized":
                position_embeds = tuple(self._stride(t, 0) for t in position_embeds)
            token_type_mat = self._stride(token_type_mat, [1, 2])
            cls_mask = self._stride(cls_mask, [0, 1])
            attention_mask = self._pool(attention_mask, "min")
        return self._pool(hidden, self.pooling_type), [position_embeds, token_type_mat, attention_mask, cls_mask]

    def post_attention_pooling(self, inputs):
        """After a `pool_q_only` attention, pools the key side too."""
        position_embeds, token_type_mat, attention_mask, cls_mask = inputs
        if self.pool_q_only:
            if self.attention_type == "factorized":
                position_embeds = tuple(position_embeds[:2]) + tuple(self._stride(t, 0) for t in position_embeds[2:])
            token_type_mat = self._stride(token_type_mat, 2)
            cls_mask = self._stride(cls_mask, 1)
            attention_mask = self._pool(attention_mask, "min")
        return [position_embeds, token_type_mat, attention_mask, cls_mask]
