"""Transformer decoder block: causal self-attention, cross-attention, feed-forward.

Size glossary: B batch, T decoder (query) length, S encoder (source) length,
D model width, N heads, H head width.
"""

import keras

from tfmodels.layers.transformer_block import TransformerEncoderBlock


@keras.saving.register_keras_serializable(package="tfmodels")
class TransformerDecoderBlock(TransformerEncoderBlock):
    """One encoder-decoder decoder layer, pre-norm (T5, mBART) or post-norm (BART) by a flag.

    Pre-norm (`normalize_first=True`)::

        x = x + dropout(self_attention(LN(x)))            causal, cached
        x = x + dropout(cross_attention(LN(x), encoder))  keys/values from the encoder
        x = x + dropout(feed_forward(LN(x)))

    Post-norm (`normalize_first=False`) applies each `LN` after its
    residual sum instead. Everything but the cross-attention sub-block
    (its `MultiHeadAttention` `cross_attention` and norm
    `cross_attention_layer_norm`) is `TransformerEncoderBlock`'s, with the
    same arguments; `attention_kwargs` configure both attentions.

    Args:
        **kwargs: the arguments of `TransformerEncoderBlock`.

    Call args:
        x: float tensor `(B, T, D)`, the decoder states.
        encoder_hidden_states: float tensor `(B, S, D)`; may be `None` when
            `cross_key_value` is given. With neither, the cross-attention
            sub-block is skipped (a decoder used alone, as `BartForCausalLM`
            does; its probabilities are then `None`).
        attention_mask: optional bool mask broadcastable to `(B, N, T, T)`
            (or `(B, N, T, max_length)` with a cache) for self-attention:
            causal and decoder padding, merged by the caller.
        attention_bias: optional float bias for self-attention, same broadcast
            rule (T5's causal relative position bias).
        cross_attention_mask: optional bool mask broadcastable to
            `(B, N, T, S)` (encoder padding).
        cross_attention_bias: optional float bias for cross-attention.
        cross_key_value: optional `(B, 2, S, N, H)` encoder keys/values from
            `self.cross_attention.project_key_value(encoder_hidden_states)`,
            computed once per `generate()` call.
        cache, cache_update_index: self-attention KV cache, see
            `MultiHeadAttention`.
        return_attention_scores: bool, also return the probabilities.
        training: bool, enables dropout.

    Returns:
        float tensor `(B, T, D)`; with `return_attention_scores`, also the
        pair `(self_probabilities (B, N, T, T or max_length),
        cross_probabilities (B, N, T, S))`; with `cache`, also the updated
        cache: `(output, [(self, cross)], [cache])`.

    References:
        Vaswani et al., "Attention Is All You Need", 2017. Parity references:
        `transformers.models.t5.modeling_t5.T5Block` (decoder, pre-norm),
        `transformers.models.bart.modeling_bart.BartDecoderLayer` (post-norm),
        `transformers.models.mbart.modeling_mbart.MBartDecoderLayer` (pre-norm).
    """

    # Block-stack convention (`tfmodels.layers.block_stack`): probabilities come as `(self, cross)` pairs.
    returns_cross_attention = True

    def build(self, x_shape, encoder_hidden_states_shape=None):
        # Argument names follow the call's (`{arg}_shape`), so Keras builds on first call.
        super().build(x_shape)
        self.cross_attention = type(self.self_attention).from_config(
            {**self.self_attention.get_config(), "name": "cross_attention"}
        )
        self.cross_attention.build(x_shape, encoder_hidden_states_shape or x_shape)
        self.cross_attention_layer_norm = self._make_norm("cross_attention_layer_norm", x_shape)
        self.cross_attention_dropout = keras.layers.Dropout(self.hidden_dropout, dtype=self.dtype_policy)

    def call(
        self,
        x,
        encoder_hidden_states=None,
        attention_mask=None,
        attention_bias=None,
        cross_attention_mask=None,
        cross_attention_bias=None,
        cross_key_value=None,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
        training=None,
    ):
        def attend(h):
            return self.self_attention(
                h, attention_mask=attention_mask, attention_bias=attention_bias, cache=cache,
                cache_update_index=cache_update_index, return_attention_scores=return_attention_scores,
                training=training,
            )

        def cross_attend(h):
            return self.cross_attention(
                h, value=encoder_hidden_states, attention_mask=cross_attention_mask,
                attention_bias=cross_attention_bias, projected_key_value=cross_key_value,
                return_attention_scores=return_attention_scores, training=training,
            )

        x, extras = self._residual(x, attend, self.attention_layer_norm, self.attention_output_dropout, training)
        cross_extras = (None,)
        if encoder_hidden_states is not None or cross_key_value is not None:
            x, cross_extras = self._residual(x, cross_attend, self.cross_attention_layer_norm,
                                             self.cross_attention_dropout, training)
        x, _ = self._residual(x, lambda h: self.feed_forward(h, training=training), self.output_layer_norm,
                              self.output_dropout, training)
        returned = ()
        if return_attention_scores:
            returned += ((extras[0], cross_extras[0]),)
        if cache is not None:
            returned += (extras[-1],)
        return (x, *returned) if returned else x
