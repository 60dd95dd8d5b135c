"""XLNet models."""

from tfmodels.models.catalogue import Family

from tfmodels.models.xlnet.heads import (
    XLNetForMultipleChoice,
    XLNetForQuestionAnsweringSimple,
    XLNetForSequenceClassification,
    XLNetForTokenClassification,
    XLNetLMHeadModel,
)
from tfmodels.models.xlnet.modeling import XLNetModel

__all__ = [
    "XLNetForMultipleChoice",
    "XLNetForQuestionAnsweringSimple",
    "XLNetForSequenceClassification",
    "XLNetForTokenClassification",
    "XLNetLMHeadModel",
    "XLNetModel",
]

FAMILY = Family(__name__, {"xlnet": "XLNet"}, tasks={"question-answering": "ForQuestionAnsweringSimple"})
