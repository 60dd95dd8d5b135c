"""Position encodings: absolute and relative sinusoids, 2-D boxes, buckets, rotary."""

from tfmodels.layers.position.bounding_box import BoundingBoxEmbedding
from tfmodels.layers.position.sinusoidal import (
    SinusoidalInitializer,
    SinusoidalRelativeEmbedding,
    inverse_frequencies,
    sinusoidal_embeddings,
    sinusoidal_table,
)

__all__ = [
    "BoundingBoxEmbedding",
    "SinusoidalInitializer",
    "SinusoidalRelativeEmbedding",
    "inverse_frequencies",
    "sinusoidal_embeddings",
    "sinusoidal_table",
]
