"""BigBird backbone and task heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.big_bird.heads import (
    BigBirdForCausalLM,
    BigBirdForMaskedLM,
    BigBirdForMultipleChoice,
    BigBirdForPreTraining,
    BigBirdForQuestionAnswering,
    BigBirdForSequenceClassification,
    BigBirdForTokenClassification,
    BigBirdQuestionAnsweringHead,
)
from tfmodels.models.big_bird.modeling import BigBirdModel

__all__ = [
    "BigBirdForCausalLM",
    "BigBirdForMaskedLM",
    "BigBirdForMultipleChoice",
    "BigBirdForPreTraining",
    "BigBirdForQuestionAnswering",
    "BigBirdForSequenceClassification",
    "BigBirdForTokenClassification",
    "BigBirdModel",
]

FAMILY = Family(__name__, {"big_bird": "BigBird"})
