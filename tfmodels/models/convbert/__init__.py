"""ConvBERT backbone and task heads."""

from tfmodels.models.convbert.modeling import (
    ConvBertForMaskedLM,
    ConvBertForQuestionAnswering,
    ConvBertForSequenceClassification,
    ConvBertForTokenClassification,
    ConvBertModel,
)

__all__ = [
    "ConvBertForMaskedLM",
    "ConvBertForQuestionAnswering",
    "ConvBertForSequenceClassification",
    "ConvBertForTokenClassification",
    "ConvBertModel",
]
