from tfmodels.models.catalogue import Family
from tfmodels.models.layoutlm.modeling import (
    LayoutLMForMaskedLM,
    LayoutLMForQuestionAnswering,
    LayoutLMForSequenceClassification,
    LayoutLMForTokenClassification,
    LayoutLMModel,
)

__all__ = [
    "LayoutLMForMaskedLM",
    "LayoutLMForQuestionAnswering",
    "LayoutLMForSequenceClassification",
    "LayoutLMForTokenClassification",
    "LayoutLMModel",
]

FAMILY = Family(__name__, {"layoutlm": "LayoutLM"})
