"""LUKE: words plus entities with entity-aware self-attention; the backbone and its task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.luke.modeling import (
    LukeForEntityClassification,
    LukeForEntityPairClassification,
    LukeForEntitySpanClassification,
    LukeForMaskedLM,
    LukeForMultipleChoice,
    LukeForQuestionAnswering,
    LukeForSequenceClassification,
    LukeForTokenClassification,
    LukeModel,
)

__all__ = [
    "LukeForEntityClassification",
    "LukeForEntityPairClassification",
    "LukeForEntitySpanClassification",
    "LukeForMaskedLM",
    "LukeForMultipleChoice",
    "LukeForQuestionAnswering",
    "LukeForSequenceClassification",
    "LukeForTokenClassification",
    "LukeModel",
]

FAMILY = Family(__name__, {"luke": "Luke"})
