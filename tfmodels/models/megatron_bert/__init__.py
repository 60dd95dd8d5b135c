"""Megatron-BERT backbone and task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.megatron_bert.modeling import (
    MegatronBertForCausalLM,
    MegatronBertForNextSentencePrediction,
    MegatronBertForMaskedLM,
    MegatronBertForMultipleChoice,
    MegatronBertForPreTraining,
    MegatronBertForQuestionAnswering,
    MegatronBertForSequenceClassification,
    MegatronBertForTokenClassification,
    MegatronBertModel,
)

__all__ = [
    "MegatronBertForCausalLM",
    "MegatronBertForNextSentencePrediction",
    "MegatronBertForMaskedLM",
    "MegatronBertForMultipleChoice",
    "MegatronBertForPreTraining",
    "MegatronBertForQuestionAnswering",
    "MegatronBertForSequenceClassification",
    "MegatronBertForTokenClassification",
    "MegatronBertModel",
]

FAMILY = Family(__name__, {"megatron-bert": "MegatronBert"})
