from tfmodels.models.catalogue import Family
from tfmodels.models.xlm.modeling import (
    XLMForMultipleChoice,
    XLMForQuestionAnswering,
    XLMForQuestionAnsweringSimple,
    XLMForSequenceClassification,
    XLMForTokenClassification,
    XLMModel,
    XLMWithLMHeadModel,
)

__all__ = [
    "XLMForMultipleChoice",
    "XLMForQuestionAnswering",
    "XLMForQuestionAnsweringSimple",
    "XLMForSequenceClassification",
    "XLMForTokenClassification",
    "XLMModel",
    "XLMWithLMHeadModel",
]

FAMILY = Family(
    __name__,
    {"xlm": "XLM"},
    tasks={
        "question-answering": "ForQuestionAnsweringSimple",
        "masked-lm": "WithLMHeadModel",
        "causal-lm": "WithLMHeadModel",
    },
)
