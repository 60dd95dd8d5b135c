"""Position encodings: learned/fixed absolute tables, absolute and relative sinusoids, 2-D boxes, buckets, rotary."""

from tfmodels.layers.position.absolute import PositionEmbedding
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
    "PositionEmbedding",
    "SinusoidalInitializer",
    "SinusoidalRelativeEmbedding",
    "inverse_frequencies",
    "sinusoidal_embeddings",
    "sinusoidal_table",
]
