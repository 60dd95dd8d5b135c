from tfmodels.models.flaubert.modeling import (
    FlaubertForMultipleChoice,
    FlaubertForQuestionAnsweringSimple,
    FlaubertForSequenceClassification,
    FlaubertForTokenClassification,
    FlaubertModel,
    FlaubertWithLMHeadModel,
)

__all__ = [
    "FlaubertForMultipleChoice",
    "FlaubertForQuestionAnsweringSimple",
    "FlaubertForSequenceClassification",
    "FlaubertForTokenClassification",
    "FlaubertModel",
    "FlaubertWithLMHeadModel",
]
