"""Cross-modality block: two streams that attend to each other, then each to itself.

Size glossary: B batch, T language length, S vision length (objects), D model
width, N heads.
"""

import keras
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class CrossModalityBlock(keras.layers.Layer):
    """LXMERT's cross-modality layer over a language and a vision stream::

        l' = LN(l + dropout(cross_attention(l, v)))     one cross-attention, shared
        v' = LN(v + dropout(cross_attention(v, l)))     by both directions
        l'' = language_block(l')                         post-norm self-attention + feed-forward
        v'' = vision_block(v')

    Both directions read the block's inputs (not each other's outputs); the
    per-stream self-attention and feed-forward are `TransformerEncoderBlock`s.

    Args:
        num_heads: int, attention heads `N`.
        intermediate_size: int, feed-forward width.
        hidden_act: str, Hugging Face activation name of the feed-forwards.
        hidden_dropout: float, dropout on the sub-block outputs.
        attention_dropout: float, dropout on the attention probabilities.
        layer_norm_eps: float, LayerNorm epsilon.
        kernel_initializer: initializer of every kernel.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(B, T, D)`, the language stream.
        visual: float tensor `(B, S, D)`, the vision stream.
        attention_mask: optional bool mask over the language keys,
            broadcastable to `(B, N, T | S, T)`.
        visual_attention_mask: optional bool mask over the vision keys,
            broadcastable to `(B, N, T | S, S)`.
        return_attention_scores: bool, also return the language-to-vision
            cross-attention probabilities `(B, N, T, S)`.
        training: bool, enables dropout.

    Returns:
        `(language (B, T, D), vision (B, S, D))`, plus the probabilities when asked
        (the block-stack convention of `tfmodels.layers.block_stack`: two streams).

    References:
        Tan & Bansal, "LXMERT: Learning Cross-Modality Encoder Representations
        from Transformers", EMNLP 2019. Parity reference:
        `transformers.models.lxmert.modeling_lxmert.LxmertXLayer`.
    """

    def __init__(self, num_heads, intermediate_size, hidden_act="gelu", hidden_dropout=0.0, attention_dropout=0.0,
                 layer_norm_eps=1e-12, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_eps = layer_norm_eps
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _block(self, name):
        return TransformerEncoderBlock(
            self.num_heads, self.intermediate_size, hidden_act=self.hidden_act, hidden_dropout=self.hidden_dropout,
            attention_dropout=self.attention_dropout, layer_norm_eps=self.layer_norm_eps,
            kernel_initializer=clone_initializer(self.kernel_initializer), dtype=self.dtype_policy, name=name,
        )

    def build(self, x_shape, visual_shape=None):
        hidden_size = x_shape[-1]
        if hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads. "
                             f"Received: hidden_size={hidden_size}, num_heads={self.num_heads}")
        visual_shape = visual_shape or x_shape
        self.cross_attention = MultiHeadAttention(
            num_heads=self.num_heads, key_dim=hidden_size // self.num_heads, dropout=self.attention_dropout,
            kernel_initializer=clone_initializer(self.kernel_initializer), dtype=self.dtype_policy,
            name="cross_attention",
        )
        self.cross_attention.build(x_shape, visual_shape)
        self.cross_attention_layer_norm = LayerNormalization(epsilon=self.layer_norm_eps, dtype=self.dtype_policy,
                                                             name="cross_attention_layer_norm")
        self.cross_attention_layer_norm.build(x_shape)
        self.cross_attention_dropout = keras.layers.Dropout(self.hidden_dropout, dtype=self.dtype_policy)
        self.language_block = self._block("language_block")
        self.language_block.build(x_shape)
        self.vision_block = self._block("vision_block")
        self.vision_block.build(visual_shape)
        self.built = True

    def _cross(self, query, context, mask, return_attention_scores, training):
        outputs = self.cross_attention(query, value=context, attention_mask=mask,
                                       return_attention_scores=return_attention_scores, training=training)
        output, probabilities = outputs if return_attention_scores else (outputs, None)
        x = self.cross_attention_layer_norm(ops.add(query, self.cross_attention_dropout(output, training=training)))
        return x, probabilities

    def call(self, x, visual, attention_mask=None, visual_attention_mask=None, return_attention_scores=False,
             training=None):
        language, probabilities = self._cross(x, visual, visual_attention_mask, return_attention_scores, training)
        vision, _ = self._cross(visual, x, attention_mask, False, training)
        language = self.language_block(language, attention_mask=attention_mask, training=training)
        vision = self.vision_block(vision, attention_mask=visual_attention_mask, training=training)
        return (language, vision, probabilities) if return_attention_scores else (language, vision)

    def compute_output_shape(self, x_shape, visual_shape=None):
        return x_shape, visual_shape or x_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "hidden_act": self.hidden_act,
            "hidden_dropout": self.hidden_dropout,
            "attention_dropout": self.attention_dropout,
            "layer_norm_eps": self.layer_norm_eps,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
