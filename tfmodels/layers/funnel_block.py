"""Funnel-Transformer layer: post-norm encoder block with Funnel relative attention."""

import keras

from tfmodels.layers.attention.funnel_attention import FunnelRelativeAttention
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class FunnelBlock(TransformerEncoderBlock):
    """`TransformerEncoderBlock` (post-norm) whose attention is `FunnelRelativeAttention`.

    Pass pooled queries as `x` and the unpooled sequence as `value=` to run
    the pooling attention (`pool_q_only=True`): the residual uses `x`.

    Args:
        attention_type: `"relative_shift"` or `"factorized"`.
        relative_initializer: initializer of the relative-attention parameters.
        **kwargs: `TransformerEncoderBlock` arguments.

    Call args: those of `TransformerEncoderBlock`, plus `value` `(B, S, D)`
    and the `FunnelRelativeAttention` inputs `position_embeds`,
    `token_type_mat`, `cls_mask`.

    References:
        Parity reference: `transformers.models.funnel.modeling_funnel.FunnelLayer`.
    """

    def __init__(self, num_heads, intermediate_size, attention_type="relative_shift", relative_initializer="zeros",
                 **kwargs):
        super().__init__(num_heads, intermediate_size, **kwargs)
        self.attention_type = attention_type
        self.relative_initializer = keras.initializers.get(relative_initializer)

    def _make_attention(self, hidden_size):
        return FunnelRelativeAttention(
            num_heads=self.num_heads,
            key_dim=self.key_dim or hidden_size // self.num_heads,
            attention_type=self.attention_type,
            relative_initializer=clone_initializer(self.relative_initializer),
            dropout=self.attention_dropout,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
        )

    def get_config(self):
        return {
            **super().get_config(),
            "attention_type": self.attention_type,
            "relative_initializer": keras.initializers.serialize(self.relative_initializer),
        }
