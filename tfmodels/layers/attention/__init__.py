"""Multi-head attention and its variants."""

from tfmodels.layers.attention.funnel_attention import FunnelRelativeAttention
from tfmodels.layers.attention.longformer_attention import LongformerEncoderBlock, LongformerSelfAttention
from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.attention.relative_attention import RelativeAttention, relative_shift_gather

__all__ = ["FunnelRelativeAttention", "LongformerEncoderBlock", "LongformerSelfAttention", "MultiHeadAttention", "RelativeAttention", "relative_shift_gather"]
