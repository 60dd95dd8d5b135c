"""The BART family: BART, mBART, Marian, Pegasus (flags of one stack)."""

from tfmodels.models.catalogue import Family

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

FAMILY = Family(
    __name__,
    {"bart": "Bart", "mbart": "MBart", "marian": "Marian", "pegasus": "Pegasus"},
    tasks={"seq2seq-lm": ("ForConditionalGeneration", "MTModel")},  # MarianMTModel
)
