"""Reusable Keras layers; no knowledge of any checkpoint format."""

from tfmodels.layers.activations import ACTIVATIONS, Activation, get_activation
from tfmodels.layers.attention import MultiHeadAttention
from tfmodels.layers.embeddings import TransformerEmbeddings, WordEmbedding
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.heads import MaskedLMHead, Pooler
from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.masks import causal_mask, masked_softmax, merge_masks, padding_mask
from tfmodels.layers.transformer_block import TransformerEncoderBlock

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "FeedForward",
    "LayerNormalization",
    "MaskedLMHead",
    "MultiHeadAttention",
    "Pooler",
    "TransformerEmbeddings",
    "TransformerEncoderBlock",
    "WordEmbedding",
    "causal_mask",
    "get_activation",
    "masked_softmax",
    "merge_masks",
    "padding_mask",
]
