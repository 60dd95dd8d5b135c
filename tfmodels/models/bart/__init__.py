"""The BART family: BART, mBART, Marian, Pegasus (flags of one stack)."""

from tfmodels.models.bart.heads import (
    BartForCausalLM,
    BartForConditionalGeneration,
    BartForQuestionAnswering,
    BartForSequenceClassification,
    MarianMTModel,
    MBartForConditionalGeneration,
    PegasusForConditionalGeneration,
)
from tfmodels.models.bart.modeling import BartModel, MarianModel, MBartModel, PegasusModel

__all__ = [
    "BartForCausalLM",
    "BartForConditionalGeneration",
    "BartForQuestionAnswering",
    "BartForSequenceClassification",
    "BartModel",
    "MBartForConditionalGeneration",
    "MBartModel",
    "MarianMTModel",
    "MarianModel",
    "PegasusForConditionalGeneration",
    "PegasusModel",
]
