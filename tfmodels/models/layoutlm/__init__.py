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
