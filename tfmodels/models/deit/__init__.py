"""DeiT backbone and task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.deit.modeling import (
    DeiTForImageClassification,
    DeiTForImageClassificationWithTeacher,
    DeiTForMaskedImageModeling,
    DeiTModel,
)

__all__ = [
    "DeiTForImageClassification",
    "DeiTForImageClassificationWithTeacher",
    "DeiTForMaskedImageModeling",
    "DeiTModel",
]

FAMILY = Family(__name__, {"deit": "DeiT"})
