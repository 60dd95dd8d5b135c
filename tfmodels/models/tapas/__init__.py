"""TAPAS: table question answering, table entailment and masked LM over flattened tables."""

from tfmodels.models.catalogue import Family
from tfmodels.models.tapas.modeling import (
    TapasForMaskedLM,
    TapasForQuestionAnswering,
    TapasForSequenceClassification,
    TapasModel,
)

__all__ = [
    "TapasForMaskedLM",
    "TapasForQuestionAnswering",
    "TapasForSequenceClassification",
    "TapasModel",
]

# `TapasForQuestionAnswering` selects table cells: it is the table-question-answering task, not the span task.
FAMILY = Family(__name__, {"tapas": "Tapas"},
                tasks={"question-answering": None, "table-question-answering": "ForQuestionAnswering"})
