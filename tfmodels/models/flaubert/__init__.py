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
