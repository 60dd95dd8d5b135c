"""BERT backbone and task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.bert.modeling import (
    BertForNextSentencePrediction,
    BertForPreTraining,
    BertLMHeadModel,
    BertForMaskedLM,
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)

__all__ = [
    "BertForNextSentencePrediction",
    "BertForPreTraining",
    "BertLMHeadModel",
    "BertForMaskedLM",
    "BertForMultipleChoice",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
]

FAMILY = Family(__name__, {"bert": "Bert"})
