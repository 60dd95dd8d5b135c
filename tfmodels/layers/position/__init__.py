"""Position embeddings: sinusoidal relative (Transformer-XL, XLNet, Funnel)."""

from tfmodels.layers.position.sinusoidal import (
    SinusoidalRelativeEmbedding,
    inverse_frequencies,
    sinusoidal_embeddings,
)

__all__ = ["SinusoidalRelativeEmbedding", "inverse_frequencies", "sinusoidal_embeddings"]
