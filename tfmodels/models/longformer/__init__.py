"""Longformer backbone and task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.longformer.modeling import (
    LongformerForMaskedLM,
    LongformerForMultipleChoice,
    LongformerForQuestionAnswering,
    LongformerForSequenceClassification,
    LongformerForTokenClassification,
    LongformerModel,
)

__all__ = [
    "LongformerForMaskedLM",
    "LongformerForMultipleChoice",
    "LongformerForQuestionAnswering",
    "LongformerForSequenceClassification",
    "LongformerForTokenClassification",
    "LongformerModel",
]

FAMILY = Family(__name__, {"longformer": "Longformer"})
