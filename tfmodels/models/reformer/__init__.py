"""Reformer backbone and task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.reformer.heads import (
    ReformerForMaskedLM,
    ReformerForQuestionAnswering,
    ReformerForSequenceClassification,
    ReformerModelWithLMHead,
)
from tfmodels.models.reformer.modeling import ReformerModel

__all__ = [
    "ReformerForMaskedLM",
    "ReformerForQuestionAnswering",
    "ReformerForSequenceClassification",
    "ReformerModel",
    "ReformerModelWithLMHead",
]

FAMILY = Family(__name__, {"reformer": "Reformer"}, tasks={"causal-lm": "ModelWithLMHead"})
