"""Reusable Keras layers; no knowledge of any checkpoint format."""

from tfmodels.layers.activations import ACTIVATIONS, Activation, get_activation
from tfmodels.layers.attention import MultiHeadAttention
from tfmodels.layers.embeddings import TransformerEmbeddings, WordEmbedding
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.heads import ClassificationHead, MaskedLMHead, Pooler
from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.masks import causal_mask, masked_softmax, merge_masks, padding_mask
from tfmodels.layers.transformer_block import TransformerEncoderBlock

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "ClassificationHead",
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

from tfmodels.layers.bottleneck_block import BottleneckEncoderBlock  # noqa: E402
from tfmodels.layers.grouped import (  # noqa: E402
    GroupedDense,
    GroupedEncoderBlock,
    GroupedFeedForward,
    GroupedMultiHeadAttention,
)
from tfmodels.layers.heads import SequenceSummary  # noqa: E402
from tfmodels.layers.layer_drop import LayerDrop  # noqa: E402
from tfmodels.layers.normalization import NoNorm  # noqa: E402
from tfmodels.layers.position import BoundingBoxEmbedding, SinusoidalInitializer  # noqa: E402
from tfmodels.layers.squad_head import SquadBeamHead  # noqa: E402

__all__ += [
    "BottleneckEncoderBlock",
    "BoundingBoxEmbedding",
    "GroupedDense",
    "GroupedEncoderBlock",
    "GroupedFeedForward",
    "GroupedMultiHeadAttention",
    "LayerDrop",
    "NoNorm",
    "SequenceSummary",
    "SinusoidalInitializer",
    "SquadBeamHead",
]

# Relative positions, funnel pooling, adaptive softmax (issue 3).
from tfmodels.layers.adaptive import AdaptiveEmbedding, AdaptiveLogSoftmax  # noqa: E402
from tfmodels.layers.attention import FunnelRelativeAttention, RelativeAttention  # noqa: E402
from tfmodels.layers.attention import LongformerEncoderBlock, LongformerSelfAttention  # noqa: E402
from tfmodels.layers.funnel_block import FunnelBlock  # noqa: E402
from tfmodels.layers.pooling import FunnelPooling, FunnelUpsampling  # noqa: E402
from tfmodels.layers.position import SinusoidalRelativeEmbedding  # noqa: E402
from tfmodels.layers.relative_block import RelativeEncoderBlock  # noqa: E402

__all__ += [
    "AdaptiveEmbedding",
    "AdaptiveLogSoftmax",
    "LongformerEncoderBlock",
    "LongformerSelfAttention",
    "FunnelBlock",
    "FunnelPooling",
    "FunnelRelativeAttention",
    "FunnelUpsampling",
    "RelativeAttention",
    "RelativeEncoderBlock",
    "SinusoidalRelativeEmbedding",
]

# Encoder-decoders (issue 12).
from tfmodels.layers.decoder_block import TransformerDecoderBlock  # noqa: E402
from tfmodels.layers.normalization import RMSNormalization  # noqa: E402
from tfmodels.layers.position.relative_bias import RelativePositionBias  # noqa: E402

__all__ += ["RMSNormalization", "RelativePositionBias", "TransformerDecoderBlock"]

# Absolute position tables with an offset (BART family).
from tfmodels.layers.position.absolute import PositionEmbedding  # noqa: E402

__all__ += ["PositionEmbedding"]

# Block-sparse attention (BigBird, issue 14).
from tfmodels.layers.attention.block_sparse_attention import BlockSparseAttention, BlockSparseEncoderBlock  # noqa: E402

__all__ += ["BlockSparseAttention", "BlockSparseEncoderBlock"]

# The one block stack and KV-cache path (issue 11).
from tfmodels.layers.block_stack import StackOutputs, run_block_stack  # noqa: E402
from tfmodels.layers.kv_cache import causal_attention_mask, init_kv_cache  # noqa: E402

__all__ += ["StackOutputs", "causal_attention_mask", "init_kv_cache", "run_block_stack"]

# Reformer (issue 14): LSH and local attention, axial positions, reversible layers.
from tfmodels.layers.attention.reformer_attention import LocalSelfAttention, LSHSelfAttention  # noqa: E402
from tfmodels.layers.position.axial import AxialPositionEmbedding  # noqa: E402
from tfmodels.layers.reversible_block import ReversibleBlock  # noqa: E402

__all__ += ["AxialPositionEmbedding", "LSHSelfAttention", "LocalSelfAttention", "ReversibleBlock"]

# Table question answering (TAPAS): the cell-selection head over segmented tensors.
from tfmodels.layers.cell_selection import CellSelectionHead  # noqa: E402

__all__ += ["CellSelectionHead"]
