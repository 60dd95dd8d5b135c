"""Sequence pooling / upsampling layers (Funnel-Transformer)."""

from tfmodels.layers.pooling.funnel import (
    FunnelPooling,
    FunnelUpsampling,
    pool_sequence,
    stride_pool,
    stride_pool_indices,
    upsample,
)

__all__ = ["FunnelPooling", "FunnelUpsampling", "pool_sequence", "stride_pool", "stride_pool_indices", "upsample"]
