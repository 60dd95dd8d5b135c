"""I-BERT (float mode: RoBERTa's numerics): the backbone and its task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.ibert.modeling import (
    IBertForMaskedLM,
    IBertForMultipleChoice,
    IBertForQuestionAnswering,
    IBertForSequenceClassification,
    IBertForTokenClassification,
    IBertModel,
)

__all__ = [
    "IBertForMaskedLM",
    "IBertForMultipleChoice",
    "IBertForQuestionAnswering",
    "IBertForSequenceClassification",
    "IBertForTokenClassification",
    "IBertModel",
]

FAMILY = Family(__name__, {"ibert": "IBert"})
