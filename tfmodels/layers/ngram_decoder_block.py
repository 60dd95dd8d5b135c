"""ProphetNet's decoder layer: n-gram self-attention, cross-attention, feed-forward, post-norm."""

import keras

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.attention.ngram_attention import NgramSelfAttention
from tfmodels.layers.decoder_block import TransformerDecoderBlock
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class NgramDecoderBlock(TransformerDecoderBlock):
    """`TransformerDecoderBlock` whose self-attention is `NgramSelfAttention` over the main and
    predict streams `(B, (1 + G) * T, D)`; cross-attention and feed-forward run on all streams.

    Args:
        add_cross_attention: bool, build the cross-attention sub-block (`config.add_cross_attention`);
            without it the block is self-attention + feed-forward only.
        cross_attention_kwargs: optional dict of extra `MultiHeadAttention` arguments of the
            cross-attention (ProphetNet: `return_logits=True`, its reference returns the masked
            pre-softmax scores).
        **kwargs: `TransformerDecoderBlock`'s; `attention_kwargs` holds `ngram`, `num_buckets`,
            `relative_max_distance`.

    Call args: as `TransformerDecoderBlock`, plus `predict_attention_mask`, `main_relative_buckets`,
    `predict_relative_buckets` for the self-attention (see `NgramSelfAttention`).

    Returns:
        as `TransformerDecoderBlock`; the self-attention probabilities are the pair
        `(main, predict)` of `NgramSelfAttention`.

    Raises:
        ValueError: when called with encoder states but built without cross-attention.

    References: `transformers.models.prophetnet.modeling_prophetnet.ProphetNetDecoderLayer`.
    """

    attention_class = NgramSelfAttention

    def __init__(self, *args, add_cross_attention=True, cross_attention_kwargs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_cross_attention = add_cross_attention
        self.cross_attention_kwargs = dict(cross_attention_kwargs or {})

    def build(self, x_shape, encoder_hidden_states_shape=None):
        if self.add_cross_attention:
            super().build(x_shape, encoder_hidden_states_shape)
        else:
            TransformerEncoderBlock.build(self, x_shape)

    def _make_cross_attention(self):
        attention = self.self_attention
        return MultiHeadAttention(
            num_heads=attention.num_heads, key_dim=attention.key_dim, dropout=self.attention_dropout,
            use_bias=self.use_bias, kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="cross_attention", **self.cross_attention_kwargs)

    def call(self, x, encoder_hidden_states=None, attention_mask=None, predict_attention_mask=None,
             main_relative_buckets=None, predict_relative_buckets=None, cross_attention_mask=None,
             cross_key_value=None, cache=None, cache_update_index=None, return_attention_scores=False,
             training=None, main_fallback_mask=None):
        if not self.add_cross_attention and (encoder_hidden_states is not None or cross_key_value is not None):
            raise ValueError("This decoder has no cross-attention (add_cross_attention=False): "
                             "call it without encoder_hidden_states.")
        return super().call(
            x, encoder_hidden_states=encoder_hidden_states, attention_mask=attention_mask,
            cross_attention_mask=cross_attention_mask, cross_key_value=cross_key_value, cache=cache,
            cache_update_index=cache_update_index, return_attention_scores=return_attention_scores,
            training=training, predict_attention_mask=predict_attention_mask,
            main_relative_buckets=main_relative_buckets, predict_relative_buckets=predict_relative_buckets,
            main_fallback_mask=main_fallback_mask)

    def get_config(self):
        return {**super().get_config(), "add_cross_attention": self.add_cross_attention,
                "cross_attention_kwargs": self.cross_attention_kwargs or None}
