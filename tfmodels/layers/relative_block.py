"""Transformer-XL / XLNet layer: relative attention block with an optional query stream."""

import keras
from keras import ops

from tfmodels.layers.attention.relative_attention import RelativeAttention
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class RelativeEncoderBlock(TransformerEncoderBlock):
    """`TransformerEncoderBlock` with `RelativeAttention` and XLNet's two-stream mode.

    The content stream `h` is a normal block call (keys/values from `value`,
    e.g. `concat([mems, h])`). The query stream `g` (XLNet pre-training and
    generation) shares every weight: its queries attend to the content keys
    under `query_attention_mask` (which, unlike the content mask, hides the
    query's own token), and with `target_mapping` `(B, M, T)` the `M`
    prediction slots are first scattered to their positions and gathered back
    after attention.

    Args:
        segment_attention: bool, XLNet's relative segment term.
        relative_initializer: initializer of the relative parameters.
        attention_use_bias: bool, biases in the attention projections (XLNet
            and Transformer-XL have none; their feed-forward has them).
        **kwargs: `TransformerEncoderBlock` arguments.

    Call args:
        x: content stream `(B, T, D)`.
        value: keys/values source `(B, S, D)`; defaults to `x`, or
            `concat([memory, x])` with a `memory`.
        memory: optional `(B, M, D)` states of the previous segment
            (Transformer-XL / XLNet `mems`, batch-first), prepended to `x`
            as keys/values (`S = M + T`); ignored when `value` is given.
        query_stream: optional `(B, M, D)` (`M = T` without `target_mapping`).
        query_attention_mask: bool mask for the query stream.
        target_mapping: optional float `(B, M, T)` one-hot prediction slots.
        position_embeds, segment_mismatch: see `RelativeAttention`.
        attention_mask, return_attention_scores, training: as the base block.

    Returns:
        `x_out`, or `(x_out, g_out)` with a query stream; with
        `return_attention_scores` the probabilities follow (a pair
        `(content, query)` with a query stream).

    References:
        Parity reference: `transformers` `XLNetLayer` / `XLNetRelativeAttention.forward`.
    """

    def __init__(self, num_heads, intermediate_size, segment_attention=False, relative_initializer="zeros",
                 attention_use_bias=False, **kwargs):
        super().__init__(num_heads, intermediate_size, **kwargs)
        self.attention_use_bias = attention_use_bias
        self.segment_attention = segment_attention
        self.relative_initializer = keras.initializers.get(relative_initializer)

    def _make_attention(self, hidden_size):
        return RelativeAttention(
            num_heads=self.num_heads,
            key_dim=self.key_dim or hidden_size // self.num_heads,
            segment_attention=self.segment_attention,
            relative_initializer=clone_initializer(self.relative_initializer),
            dropout=self.attention_dropout,
            use_bias=self.attention_use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
        )

    def _query_stream(self, g, value, mask, target_mapping, return_attention_scores, training, **kwargs):
        queries = g if target_mapping is None else ops.einsum("bmt,bmd->btd", ops.cast(target_mapping, g.dtype), g)
        outputs = self.self_attention(
            queries, value=value, attention_mask=mask, return_attention_scores=return_attention_scores,
            training=training, **kwargs,
        )
        attention, probs = outputs if return_attention_scores else (outputs, None)
        if target_mapping is not None:
            attention = ops.einsum("bmt,btd->bmd", ops.cast(target_mapping, attention.dtype), attention)
        x = self.attention_layer_norm(g + self.attention_output_dropout(attention, training=training))
        x = self.output_layer_norm(x + self.output_dropout(self.feed_forward(x), training=training))
        return x, probs

    def call(self, x, value=None, memory=None, query_stream=None, attention_mask=None, query_attention_mask=None,
             target_mapping=None, return_attention_scores=False, training=None, **kwargs):
        if self.normalize_first and query_stream is not None:
            raise ValueError("The query stream is only defined for post-norm blocks (normalize_first=False).")
        if value is None:
            value = x if memory is None else ops.concatenate([ops.cast(memory, x.dtype), x], axis=1)  # (B, M + T, D)
        outputs = super().call(
            x, value=value, attention_mask=attention_mask, return_attention_scores=return_attention_scores,
            training=training, **kwargs,
        )
        if query_stream is None:
            return outputs
        h, h_probs = outputs if return_attention_scores else (outputs, None)
        g, g_probs = self._query_stream(query_stream, value, query_attention_mask, target_mapping,
                                        return_attention_scores, training, **kwargs)
        return (h, g, (h_probs, g_probs)) if return_attention_scores else (h, g)

    def get_config(self):
        return {
            **super().get_config(),
            "segment_attention": self.segment_attention,
            "attention_use_bias": self.attention_use_bias,
            "relative_initializer": keras.initializers.serialize(self.relative_initializer),
        }
