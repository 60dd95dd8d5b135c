"""Grouped projections (1x1 grouped convolutions) in place of dense layers (SqueezeBERT).

A grouped projection splits the `C_in` input features into `groups` blocks
and maps block `g` only to output block `g`: a block-diagonal dense layer,
i.e. PyTorch's `nn.Conv1d(C_in, C_out, kernel_size=1, groups=groups)`
applied over the sequence. `GroupedDense` computes it with one einsum (no
convolution op, so it compiles with XLA on every device); the attention,
feed-forward and encoder-block variants below only swap their projections
for it through the base layers' override points.

References:
    Iandola et al., "SqueezeBERT: What can computer vision teach NLP about
    efficient neural networks?", 2020. Parity reference:
    `transformers.models.squeezebert.modeling_squeezebert`.
"""

import keras
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.grouped_dense import GroupedDense
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class GroupedMultiHeadAttention(MultiHeadAttention):
    """`MultiHeadAttention` whose four projections are `GroupedDense`s.

    Args:
        query_groups, key_groups, value_groups, output_groups: int, groups
            of each projection.
        **kwargs: `MultiHeadAttention` arguments.
    """

    def __init__(self, query_groups=1, key_groups=1, value_groups=1, output_groups=1, **kwargs):
        super().__init__(**kwargs)
        self.query_groups = query_groups
        self.key_groups = key_groups
        self.value_groups = value_groups
        self.output_groups = output_groups

    def _dense(self, equation, output_shape, bias_axes, name, use_bias=None):
        use_bias = self.use_bias if use_bias is None else use_bias
        common = dict(use_bias=use_bias, kernel_initializer=clone_initializer(self.kernel_initializer),
                      bias_initializer=clone_initializer(self.bias_initializer), dtype=self.dtype_policy, name=name)
        if name == "attention_output":
            return GroupedDense(output_shape[-1], self.output_groups, input_axes=2, **common)
        groups = {"query": self.query_groups, "key": self.key_groups, "value": self.value_groups}[name]
        heads, head_dim = output_shape[1:]
        return GroupedDense(heads * head_dim, groups, output_heads=(heads, head_dim), **common)

    def get_config(self):
        return {**super().get_config(), "query_groups": self.query_groups, "key_groups": self.key_groups,
                "value_groups": self.value_groups, "output_groups": self.output_groups}


@keras.saving.register_keras_serializable(package="tfmodels")
class GroupedFeedForward(FeedForward):
    """`FeedForward` whose two projections are `GroupedDense`s (`intermediate_groups`, `output_groups`)."""

    def __init__(self, intermediate_size, intermediate_groups=1, output_groups=1, **kwargs):
        super().__init__(intermediate_size, **kwargs)
        self.intermediate_groups = intermediate_groups
        self.output_groups = output_groups

    def _dense(self, units, name, dtype=None):
        groups = self.intermediate_groups if name == "intermediate_dense" else self.output_groups
        return GroupedDense(units, groups, use_bias=self.use_bias,
                            kernel_initializer=clone_initializer(self.kernel_initializer),
                            dtype=dtype or self.dtype_policy, name=name)

    def get_config(self):
        return {**super().get_config(), "intermediate_groups": self.intermediate_groups,
                "output_groups": self.output_groups}


@keras.saving.register_keras_serializable(package="tfmodels")
class GroupedEncoderBlock(TransformerEncoderBlock):
    """Post-norm `TransformerEncoderBlock` with grouped projections everywhere.

    Args:
        groups: dict with `query`, `key`, `value`, `post_attention`
            (attention output), `intermediate`, `output` group counts.
        return_logits: bool, attention scores returned are the masked
            pre-softmax logits (SqueezeBERT's reference).
        **kwargs: `TransformerEncoderBlock` arguments.
    """

    GROUP_NAMES = ("query", "key", "value", "post_attention", "intermediate", "output")

    def __init__(self, groups=None, return_logits=False, **kwargs):
        super().__init__(**kwargs)
        groups = dict(groups or {})
        unknown = sorted(set(groups) - set(self.GROUP_NAMES))
        if unknown:
            raise ValueError(f"Unknown group names {unknown}; expected some of {self.GROUP_NAMES}.")
        self.groups = {name: int(groups.get(name, 1)) for name in self.GROUP_NAMES}
        self.return_logits = return_logits

    def _make_attention(self, hidden_size):
        g = self.groups
        return GroupedMultiHeadAttention(
            query_groups=g["query"], key_groups=g["key"], value_groups=g["value"], output_groups=g["post_attention"],
            num_heads=self.num_heads, key_dim=self.key_dim or hidden_size // self.num_heads,
            dropout=self.attention_dropout, use_bias=self.use_bias, return_logits=self.return_logits,
            kernel_initializer=clone_initializer(self.kernel_initializer), dtype=self.dtype_policy,
            name="self_attention",
        )

    def _make_feed_forward(self):
        return GroupedFeedForward(
            self.intermediate_size, intermediate_groups=self.groups["intermediate"],
            output_groups=self.groups["output"], activation=self.hidden_act, use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer), dtype=self.dtype_policy,
            name="feed_forward",
        )

    def get_config(self):
        return {**super().get_config(), "groups": dict(self.groups), "return_logits": self.return_logits}
