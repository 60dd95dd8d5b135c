"""Funnel-Transformer models."""

from tfmodels.models.catalogue import Family

from tfmodels.models.funnel.heads import (
    FunnelForMaskedLM,
    FunnelForMultipleChoice,
    FunnelForPreTraining,
    FunnelForQuestionAnswering,
    FunnelForSequenceClassification,
    FunnelForTokenClassification,
)
from tfmodels.models.funnel.modeling import FunnelBaseModel, FunnelModel

__all__ = [
    "FunnelBaseModel",
    "FunnelForMaskedLM",
    "FunnelForMultipleChoice",
    "FunnelForPreTraining",
    "FunnelForQuestionAnswering",
    "FunnelForSequenceClassification",
    "FunnelForTokenClassification",
    "FunnelModel",
]

FAMILY = Family(__name__, {"funnel": "Funnel"})
