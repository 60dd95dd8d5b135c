"""ViT backbone and task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.vit.modeling import ViTForImageClassification, ViTForMaskedImageModeling, ViTModel

__all__ = ["ViTForImageClassification", "ViTForMaskedImageModeling", "ViTModel"]

FAMILY = Family(__name__, {"vit": "ViT"})
