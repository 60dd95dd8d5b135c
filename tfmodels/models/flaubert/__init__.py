from tfmodels.models.catalogue import Family
from tfmodels.models.flaubert.modeling import (
    FlaubertForMultipleChoice,
    FlaubertForQuestionAnswering,
    FlaubertForQuestionAnsweringSimple,
    FlaubertForSequenceClassification,
    FlaubertForTokenClassification,
    FlaubertModel,
    FlaubertWithLMHeadModel,
)

__all__ = [
    "FlaubertForMultipleChoice",
    "FlaubertForQuestionAnswering",
    "FlaubertForQuestionAnsweringSimple",
    "FlaubertForSequenceClassification",
    "FlaubertForTokenClassification",
    "FlaubertModel",
    "FlaubertWithLMHeadModel",
]

FAMILY = Family(
    __name__,
    {"flaubert": "Flaubert"},
    tasks={
        "question-answering": "ForQuestionAnsweringSimple",
        "masked-lm": "WithLMHeadModel",
        "causal-lm": "WithLMHeadModel",
    },
    converter="tfmodels.converters.xlm",
)
