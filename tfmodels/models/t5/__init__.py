"""T5 and mT5 models."""

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
    "T5Model",
]
