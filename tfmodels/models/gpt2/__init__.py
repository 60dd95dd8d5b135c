"""GPT-2 models."""

from tfmodels.models.catalogue import Family

from tfmodels.models.gpt2.modeling import (
    GPT2DoubleHeadsModel,
    GPT2ForSequenceClassification,
    GPT2ForTokenClassification,
    GPT2LMHeadModel,
    GPT2Model,
)

__all__ = [
    "GPT2DoubleHeadsModel",
    "GPT2ForSequenceClassification",
    "GPT2ForTokenClassification",
    "GPT2LMHeadModel",
    "GPT2Model",
]

FAMILY = Family(__name__, {"gpt2": "GPT2"})
