"""T5 and mT5 models."""

from tfmodels.models.catalogue import Family

from tfmodels.models.t5.heads import T5ForQuestionAnswering, T5ForSequenceClassification, T5ForTokenClassification

from tfmodels.models.t5.modeling import (
    MT5EncoderModel,
    MT5ForConditionalGeneration,
    MT5Model,
    T5EncoderModel,
    T5ForConditionalGeneration,
    T5Model,
)

__all__ = [
    "MT5EncoderModel",
    "MT5ForConditionalGeneration",
    "MT5Model",
    "T5EncoderModel",
    "T5ForConditionalGeneration",
    "T5ForQuestionAnswering",
    "T5ForSequenceClassification",
    "T5ForTokenClassification",
    "T5Model",
]

FAMILY = Family(__name__, {"t5": "T5", "mt5": "MT5"})
