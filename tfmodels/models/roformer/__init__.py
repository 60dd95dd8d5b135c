"""RoFormer backbone and task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.roformer.modeling import (
    RoFormerForMaskedLM,
    RoFormerForMultipleChoice,
    RoFormerForQuestionAnswering,
    RoFormerForSequenceClassification,
    RoFormerForTokenClassification,
    RoFormerModel,
)

__all__ = [
    "RoFormerForMaskedLM",
    "RoFormerForMultipleChoice",
    "RoFormerForQuestionAnswering",
    "RoFormerForSequenceClassification",
    "RoFormerForTokenClassification",
    "RoFormerModel",
]

FAMILY = Family(__name__, {"roformer": "RoFormer"})
