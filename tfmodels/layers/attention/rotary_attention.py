"""Multi-head attention with rotary position embedding on queries, keys and optionally values."""

import keras

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.position.rotary import RotaryEmbedding
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class RotaryAttention(MultiHeadAttention):
    """`MultiHeadAttention` whose projected queries and keys (and values, with
    `rotary_value=True`) are rotated by `RotaryEmbedding`.

    Args:
        num_heads: see `MultiHeadAttention`.
        key_dim: see `MultiHeadAttention`.
        max_position_embeddings: int, longest sequence (rotary table length).
        rotary_value: bool, also rotate the values (RoFormer option).
        rotary_base: float, wavelength base.
        rotary_interleaved: bool, adjacent-pair (RoFormer) or half-split
            (GPT-NeoX) pairing.
        **kwargs: `MultiHeadAttention` arguments.

    Call args (besides `MultiHeadAttention`'s):
        position_ids: optional int tensor `(T,)` or `(B, T)` of query
            positions; `arange(T)` if absent (self-attention, no cache).

    Returns:
        Like `MultiHeadAttention`: `(B, T, D)` and optionally `(B, N, T, S)`.

    References:
        Su et al., "RoFormer: Enhanced Transformer with Rotary Position
        Embedding", 2021. Parity reference:
        `transformers.models.roformer.modeling_roformer.RoFormerSelfAttention`.
    """

    def __init__(self, num_heads, key_dim, max_position_embeddings=512, rotary_value=False, rotary_base=10000.0,
                 rotary_interleaved=True, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        self.max_position_embeddings = max_position_embeddings
        self.rotary_value = rotary_value
        self.rotary_base = rotary_base
        self.rotary_interleaved = rotary_interleaved
        self.rotary = RotaryEmbedding(max_position_embeddings, key_dim, base=rotary_base,
                                      interleaved=rotary_interleaved, dtype=self.dtype_policy, name="rotary")

    def _transform_query_key(self, query, key, position_ids=None, **kwargs):
        return self.rotary(query, positions=position_ids), self.rotary(key, positions=position_ids)

    def _transform_value(self, value, position_ids=None, **kwargs):
        return self.rotary(value, positions=position_ids) if self.rotary_value else value

    def get_config(self):
        return {
            **super().get_config(),
            "max_position_embeddings": self.max_position_embeddings,
            "rotary_value": self.rotary_value,
            "rotary_base": self.rotary_base,
            "rotary_interleaved": self.rotary_interleaved,
        }


@keras.saving.register_keras_serializable(package="tfmodels")
class RotaryEncoderBlock(TransformerEncoderBlock):
    """A `TransformerEncoderBlock` whose attention is `RotaryAttention` (RoFormer).

    Args:
        max_position_embeddings, rotary_value: see `RotaryAttention`.
        **kwargs: `TransformerEncoderBlock` arguments.

    Call args:
        x: float tensor `(batch, seq_len, hidden_size)`; `position_ids` is
        forwarded to the attention.

    References:
        Parity reference: `transformers.models.roformer.modeling_roformer.RoFormerLayer`.
    """

    def __init__(self, max_position_embeddings=512, rotary_value=False, **kwargs):
        super().__init__(**kwargs)
        self.max_position_embeddings = max_position_embeddings
        self.rotary_value = rotary_value

    def _make_attention(self, hidden_size):
        return RotaryAttention(
            num_heads=self.num_heads,
            key_dim=self.key_dim or hidden_size // self.num_heads,
            max_position_embeddings=self.max_position_embeddings,
            rotary_value=self.rotary_value,
            dropout=self.attention_dropout,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
        )

    def get_config(self):
        return {
            **super().get_config(),
            "max_position_embeddings": self.max_position_embeddings,
            "rotary_value": self.rotary_value,
        }
