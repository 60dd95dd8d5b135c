"""ViT backbone and task heads."""

from tfmodels.models.vit.modeling import ViTForImageClassification, ViTForMaskedImageModeling, ViTModel

__all__ = ["ViTForImageClassification", "ViTForMaskedImageModeling", "ViTModel"]
