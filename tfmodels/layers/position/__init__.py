"""Position encodings."""

from tfmodels.layers.position.bounding_box import BoundingBoxEmbedding
from tfmodels.layers.position.sinusoidal import SinusoidalInitializer, sinusoidal_table

__all__ = ["BoundingBoxEmbedding", "SinusoidalInitializer", "sinusoidal_table"]
