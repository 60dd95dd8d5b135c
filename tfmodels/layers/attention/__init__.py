"""Multi-head attention and its variants."""

from tfmodels.layers.attention.funnel_attention import FunnelRelativeAttention
from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention

__all__ = ["FunnelRelativeAttention", "MultiHeadAttention"]
