"""MPNet backbone and task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.mpnet.modeling import (
    MPNetForMaskedLM,
    MPNetForMultipleChoice,
    MPNetForQuestionAnswering,
    MPNetForSequenceClassification,
    MPNetForTokenClassification,
    MPNetModel,
)

__all__ = [
    "MPNetForMaskedLM",
    "MPNetForMultipleChoice",
    "MPNetForQuestionAnswering",
    "MPNetForSequenceClassification",
    "MPNetForTokenClassification",
    "MPNetModel",
]

FAMILY = Family(__name__, {"mpnet": "MPNet"})
