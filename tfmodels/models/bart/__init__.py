"""The BART family: BART, mBART (Marian and Pegasus: flags of the same stack)."""

from tfmodels.models.bart.heads import (
    BartForCausalLM,
    BartForConditionalGeneration,
    BartForQuestionAnswering,
    BartForSequenceClassification,
    MBartForConditionalGeneration,
)
from tfmodels.models.bart.modeling import BartModel, MBartModel

__all__ = [
    "BartForCausalLM",
    "BartForConditionalGeneration",
    "BartForQuestionAnswering",
    "BartForSequenceClassification",
    "BartModel",
    "MBartForConditionalGeneration",
    "MBartModel",
]
