"""DPR encoders and reader."""

from tfmodels.models.catalogue import Family

from tfmodels.models.dpr.modeling import (
    DPRContextEncoder,
    DPRQuestionEncoder,
    DPRReader,
)

__all__ = [
    "DPRContextEncoder",
    "DPRQuestionEncoder",
    "DPRReader",
]

# AutoModel picks the question encoder, as transformers' does.
FAMILY = Family(__name__, {"dpr": "DPR"}, tasks={"base": "QuestionEncoder"})
